"""python -m touchpoint.generator --customers N --days D --start YYYY-MM-DD [--history-days H] --seed S --out DIR"""
import argparse
import sys

from touchpoint.generator import add_arguments, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m touchpoint.generator",
                                     description="Generate realistic landing files with ground truth.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
