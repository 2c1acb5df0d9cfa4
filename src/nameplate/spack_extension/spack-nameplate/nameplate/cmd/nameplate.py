"""``spack nameplate extract [SPEC...]`` and ``spack nameplate push MIRROR [SPEC...]``:
nameplate records through Spack's own API.

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
    push = sub.add_parser(
        "push",
        help="attach records to the images spack buildcache push wrote to an OCI mirror",
    )
    push.add_argument("mirror", help="an OCI mirror: its name, or oci://HOST/REPO")
    push.add_argument(
        "specs",
        nargs="*",
        help="the specs pushed (with their link and run dependencies, as spack buildcache "
        "push takes them); default: the active environment's",
    )
    push.add_argument("--sign", metavar="KEY", help="a PEM private key, or gpg:KEYID")
    push.add_argument(
        "--signature-format",
        choices=["both", "bundle", "att"],
        default="both",
        help="where the signature goes (default: both)",
    )


def oci_repository(url):
    """``(HOST/REPO, plain_http)`` of an ``oci://`` or ``oci+http://`` mirror URL."""
    for scheme, plain in (("oci+http://", True), ("oci://", False)):
        if url.startswith(scheme):
            return url[len(scheme) :].rstrip("/"), plain
    return None, False


def spec_tags(specs, default_tag=None):
    """The image tags of ``specs`` and their link/run dependencies that are not external (what
    ``spack buildcache push`` uploads), as Spack names them."""
    if default_tag is None:
        from nameplate.spack_cache import spec_tag

        def default_tag(s):
            return spec_tag(s.name, str(s.version), s.dag_hash())

    tags = set()
    for root in specs:
        for node in root.traverse(deptype=("link", "run"), root=True):
            if not node.external:
                tags.add(default_tag(node))
    return sorted(tags)


def _mirror_url(name_or_url):
    if "://" in name_or_url:
        return name_or_url, None
    try:
        from spack.mirrors.mirror import MirrorCollection
    except ImportError:  # Spack < 1.0
        from spack.mirror import MirrorCollection
    mirror = MirrorCollection(binary=True).lookup(name_or_url)
    credentials = None
    get = getattr(mirror, "get_credentials", None)
    if get is not None:
        found = get("push") or {}
        if found.get("username") and found.get("password"):
            credentials = (found["username"], found["password"])
    return mirror.push_url, credentials


def _specs(queries):
    import spack.environment
    import spack.store

    if not queries:
        env = spack.environment.active_environment()
        if env is None:
            raise ValueError("give the specs pushed, or activate the environment pushed")
        return [s for _, s in env.concretized_specs()]
    specs = []
    for query in queries:
        found = spack.store.STORE.db.query(query, installed=True)
        if not found:
            raise ValueError(f"no installed spec matches {query!r}")
        specs += [s for s in found if s not in specs]
    return specs


def _push(args):
    from nameplate.errors import NameplateError
    from nameplate.oci import Credentials, Transport
    from nameplate.spack_cache import attach_cache

    try:
        url, credentials = _mirror_url(args.mirror)
        repo, plain = oci_repository(url)
        if repo is None:
            print(f"error: {args.mirror}: not an OCI mirror ({url})", file=sys.stderr)
            return 3
        try:
            from spack.oci.image import default_tag
        except ImportError:
            default_tag = None
        tags = spec_tags(_specs(args.specs), default_tag)
        if not tags:
            print("nothing to do: every spec given is external")
            return 0
        base = Transport()
        transport = Transport(
            plain_http=True if plain else base.plain_http,
            ca_file=base.ca_file,
            credentials=Credentials(*credentials) if credentials else base.credentials,
        )
        signer = None
        if args.sign:
            from nameplate.sign import load_signer

            signer = load_signer(args.sign)
        formats = ("bundle", "att") if args.signature_format == "both" else (args.signature_format,)
        result = attach_cache(repo, signer=signer, formats=formats, tags=tags, transport=transport)
    except (NameplateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 3)
    for image in result.images:
        print(f"{image.action:<8} {image.tag}" + (f": {image.reason}" if image.reason else ""))
    return 0


def nameplate(parser, args):
    if args.nameplate_command == "push":
        return _push(args)
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
