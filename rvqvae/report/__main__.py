"""``python -m rvqvae.report``."""

from rvqvae.report.cli import main

raise SystemExit(main())
