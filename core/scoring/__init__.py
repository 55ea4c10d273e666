"""Quality scores (CLIPScore, PickScore, LAION aesthetic) and image-against-image comparison.

One job per module, imported from where it lives (this package imports nothing, so the scorers alone run where
the store or torchmetrics are not installed, e.g. scripts/gpu_scoring.py):

    core.scoring.scorers    make_scorer("clip").load(device, dtype).score(images, prompts)
    core.scoring.compare    compare(row_a, row_b, clip=None) -> PSNR, SSIM, CLIP image cosine
    core.scoring.backfill   ScorerSet (inline scoring in a sweep), score_missing (afterwards)
    core.scoring.cli        main(argv) of `python -m core.bench score`
    core.scoring.sources    where weights come from and their revision
    core.scoring.tiny       tiny twins built in code
"""
