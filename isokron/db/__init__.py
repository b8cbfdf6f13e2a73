"""Database plumbing below the readers and stores: tenant settings (:mod:`.tenancy`),
read replicas (:mod:`.replicas`), substrate write transports (:mod:`.transports`) and the
sharding layout (:mod:`.distribution`). The pool itself is :mod:`isokron.pool`."""

__all__: list[str] = []
