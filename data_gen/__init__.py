"""Synthetic, labelled MCP dialogues from the taxonomy: catalogue -> benign scenarios -> attack transforms and
hard negatives -> a ``datasets.DatasetDict`` with the guardian SFT pairs (``python -m data_gen``)."""
