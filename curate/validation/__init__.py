"""Data-quality gates for builds: GX suites, drift against the previous version, Data Docs.

``curate validate`` / ``curate gate`` / ``curate hook serve`` are in :mod:`curate.cli.gate`;
the library:

* :func:`curate.validation.validate.validate_build` validates a build directory (local or in a
  bucket: ``s3://…``) and writes ``validation/result.json`` and ``validation/docs/`` into it;
* :func:`curate.validation.result.require_passed` is what ``curate register`` checks;
* :mod:`.suites` loads suites, :mod:`.tables` makes the tables they check, :mod:`.gx_run` runs
  them in GX, :mod:`.drift` compares distributions, :mod:`.docs` renders the site, :mod:`.hook`
  is the lakeFS pre-merge webhook, :mod:`.storage` reads and writes a build's files wherever
  they are.

Importing this package imports neither Great Expectations nor the registry, and no module of
it imports the registry at all: registered baselines and the hook's build files come in
through :class:`~curate.validation.validate.BaselineSource` and
:class:`~curate.validation.hook.BuildFiles` (``registry.gate`` implements both).
"""
