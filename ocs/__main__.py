"""``python -m ocs``: the same as the ``ocs`` console script (``ocs.cli``)."""

from __future__ import annotations

from ocs.cli import main

if __name__ == "__main__":
    main()
