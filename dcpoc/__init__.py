"""dcpoc: an executive proof-of-concept workbench for DCFormer (DCMHA, ICML 2024)."""
__version__ = "0.1.0"
