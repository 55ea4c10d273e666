"""The engine of the Image Generation Case Study workbench. Never imports streamlit."""
