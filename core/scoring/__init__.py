"""Quality scores (CLIPScore, PickScore, LAION aesthetic), edit metrics and image-against-image comparison.

One job per module, imported from where it lives (this package imports nothing, so the scorers alone run where
the store or torchmetrics are not installed, e.g. scripts/gpu_scoring.py):

    core.scoring.scorers    make_scorer("clip").load(device, dtype).score(images, prompts)
    core.scoring.metrics    every metric by name: parse_metrics, make_scorers (one CLIP for clip and clip_*)
    core.scoring.edit_scorers  edit metrics as scorers: make_scorers(["clip_i"])["clip_i"].score_edits(pairs)
    core.scoring.edit_metrics  preservation (PSNR, SSIM, L1 outside a region), CLIP-I / CLIP-T / CLIP-dir formulas
    core.scoring.edit_checks   check_edit(item, output): the synthetic suite's pixel checks
    core.scoring.compare    compare(row_a, row_b, clip=None) -> PSNR, SSIM, CLIP image cosine
    core.scoring.backfill   ScorerSet (inline scoring in a sweep), score_missing (afterwards)
    core.cli.score        main(argv) of `python -m core.bench score`
    core.scoring.sources    where weights come from and their revision
    core.scoring.tiny       tiny twins built in code
"""
