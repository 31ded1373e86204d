"""Write a synthetic policies/ tree of N payers (payerkb/dev/synthetic.py), for benchmarks.

    python -m benchmarks.generate --payers 10000 --out /tmp/syn/policies
"""
from __future__ import annotations

from pathlib import Path

import click

from payerkb.dev.synthetic import REAL_POLICIES, generate


@click.command()
@click.option("--payers", type=click.IntRange(min=1), required=True, help="How many synthetic payers.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="policies/ folder to write (replaced if it exists).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same tree).")
def main(payers: int, out: Path, seed: int):
    """Write a synthetic policies/ tree for benchmarks (passes `payerkb validate`)."""
    if out.resolve() == REAL_POLICIES.resolve():
        raise click.BadParameter("refusing to overwrite the real policies/ folder", param_hint="--out")
    generate(payers, out, seed)
    click.echo(f"wrote {payers} synthetic payers to {out}")


if __name__ == "__main__":
    main()
