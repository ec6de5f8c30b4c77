"""The team remote: object storage holding the same history as the local store.

    config     ``[remote.NAME]`` and ``[store] objects`` in ``.promptver/config.toml``
    transport  get / create-only put / compare-and-swap put over obstore (S3, GCS, Azure)
               or a plain folder (``file://``)
    objects    the object format on the remote: zstd, large files cut by FastCDC into packs
    sync       push, pull (re-linking unpushed events), fetch, verify --remote
    cache      ``promptver.load(..., remote=...)`` through a verified local cache, and the
               live ``follow`` handle

The remote sits above the store and governance (it moves events and aliases) and below
the app runtime and the CLI. Nothing here is imported by ``import promptver``; obstore is
imported only when a remote is actually opened.
"""
