"""``spack nameplate extract [SPEC...]``: nameplate records through Spack's own API.

Spack imports this module; it imports the nameplate library, which must be importable by
Spack's Python (install nameplate into it, or run Spack with SPACK_PYTHON pointing at a Python
that has it).
"""

import json
import sys

description = "write nameplate build records (SBOM + HPC fields) for installed specs"
section = "extensions"
level = "long"


def setup_parser(subparser):
    sub = subparser.add_subparsers(dest="nameplate_command", metavar="COMMAND")
    extract = sub.add_parser("extract", help="records for installed specs (default: explicit ones)")
    extract.add_argument("specs", nargs="*", help="specs to describe, e.g. hdf5 or /abc1234")
    extract.add_argument("-o", "--output", help="write to this file (default: stdout)")
    extract.add_argument(
        "--combined", action="store_true", help="one record for all matching specs"
    )


def nameplate(parser, args):
    if args.nameplate_command != "extract":
        parser.print_help()
        return 2
    from nameplate._io import atomic_write
    from nameplate.errors import NameplateError
    from nameplate.sources import ExtractOptions
    from nameplate.sources.spack import api as _spack_api

    try:
        records = _spack_api.extract_specs(
            list(args.specs), ExtractOptions(combined=bool(args.combined))
        )
    except NameplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    docs = [r.to_dict() for r in records]
    text = json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, sort_keys=True) + "\n"
    if args.output:
        atomic_write(args.output, text.encode())
    else:
        sys.stdout.write(text)
    return 0
