"""`python -m data_gen`: build a dataset from a recipe, or import outside data.

python -m data_gen --config recipes/data/default.yaml [--key value ...]   build (keys override the recipe)
python -m data_gen import-tools FORMAT IN --out DIR [--plain]             mcp | bfcl -> server YAML files
python -m data_gen import-conversations FORMAT IN --out FILE.jsonl        glaive | openai | xlam | toolace
python -m data_gen import-agentdojo --out FILE.jsonl [--per-suite N]      AgentDojo suites, evaluation only

The formats are the importers registered in ``data_gen.registry.IMPORTERS`` (``--help`` lists them); an
``evaluation`` importer NAME runs as ``import-NAME``.
"""

from __future__ import annotations

import sys
import time


def _build(argv: list[str]) -> int:
    from data_gen.build import build
    from data_gen.recipe import load_recipe

    config = None
    if "--config" in argv:
        i = argv.index("--config")
        config, argv = argv[i + 1], argv[:i] + argv[i + 2 :]
    recipe = load_recipe(config, argv)
    start = time.perf_counter()
    out = build(recipe)
    n = sum(recipe.size(s) for s in ("train", "validation", "test", "test_unseen"))
    secs = time.perf_counter() - start
    print(f"wrote {n} records to {out} in {secs:.1f}s ({n / secs:.0f} records/s); card: {out}/README.md")
    return 0


def _import(kind: str, argv: list[str]) -> int:
    import argparse

    from data_gen import importers
    from data_gen.registry import IMPORTERS, Loaders
    from mcip.record import save_jsonl

    table = Loaders(kind)
    parser = argparse.ArgumentParser(
        prog=f"python -m data_gen import-{kind}",
        epilog="formats: "
        + "; ".join(f"{name}: {IMPORTERS[name].doc.rstrip('.')}" for name in sorted(table)),
    )
    parser.add_argument("format", choices=sorted(table))
    parser.add_argument("input")
    parser.add_argument("--out", required=True)
    if kind == "tools":
        parser.add_argument(
            "--plain",
            action="store_true",
            help="write the tools as they are (no synthesized intents, results, prerequisites, twins, look-alikes)",
        )
    args = parser.parse_args(argv)
    load = table[args.format]  # the tables map a format to its loader function
    if kind == "tools":
        servers = load(args.input)
        if not args.plain:  # multi-step intents, simulated results, prerequisites, twins, look-alikes
            servers = IMPORTERS["synth"].load(servers)
        importers.write_servers(servers, args.out)
        print(f"wrote {len(servers)} server file(s) to {args.out}")
    else:
        n = save_jsonl(load(args.input), args.out)
        print(f"wrote {n} trajectory record(s) to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from data_gen.build import GenerationError
    from data_gen.catalogue import CatalogueError
    from data_gen.recipe import RecipeError
    from data_gen.rewrite import RewriteError
    from mcip.record import RecordError

    argv = list(sys.argv[1:] if argv is None else argv)
    errors: tuple[type[BaseException], ...] = (
        RecipeError,
        CatalogueError,
        GenerationError,
        RecordError,
        OSError,
        RewriteError,
    )
    try:
        if argv[:1] in (["-h"], ["--help"]):
            import dataclasses

            from data_gen.recipe import DataRecipe

            print(__doc__)
            keys = " ".join(f"--{f.name}" for f in dataclasses.fields(DataRecipe))
            print(f"recipe keys (each overrides the recipe file): {keys}")
            from data_gen.registry import IMPORTERS

            print("importers:")
            for name, part in sorted(IMPORTERS.items()):
                print(f"  {name:<10} {part.kind:<13} {part.doc}")
            return 0
        if argv[:1] in (["import-tools"], ["import-conversations"]):
            from data_gen.importers import ImporterError

            errors += (ImporterError,)
            return _import(argv[0].removeprefix("import-"), argv[1:])
        if argv[:1] and argv[0].startswith("import-"):
            # an evaluation importer (import-agentdojo): evaluation-only records, never a catalogue or a gold source
            from data_gen.registry import EVALUATION, IMPORTERS

            part = IMPORTERS.get(argv[0].removeprefix("import-"))
            if part is not None and part.kind == EVALUATION:
                return part.load(argv[1:])
        return _build(argv)
    except errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
