"""What redis-py does not offer publicly: the connection class of ``redis.asyncio``'s cluster."""

from __future__ import annotations

from typing import Any

import redis.asyncio.cluster
import redis.asyncio.connection

__all__ = ["set_cluster_connection_class"]


def set_cluster_connection_class(
    client: redis.asyncio.cluster.RedisCluster, classes: dict[type[Any], type[Any]]
) -> type[Any]:
    """Swap the connection class ``client`` picked for ours; returns the one used.

    ``redis.asyncio.cluster.RedisCluster`` (redis-py 5.0.1 to 8.x) takes no connection class:
    its ``__init__`` picks redis-py's ``Connection`` or ``SSLConnection`` (``ssl=True``), builds
    its startup nodes with it and keeps it in the connection kwargs it builds every node it
    discovers from (``get_connection_kwargs()``, the dict its ``nodes_manager`` shares). Nodes
    passed as ``startup_nodes`` are rebuilt from those kwargs, so their own class is dropped.
    Called on a new client, before its first command: no connection exists yet.

    Args:
        client: The new cluster client.
        classes: redis-py's connection class to ours (``{SSLConnection: Bound...}``).

    Returns:
        Our class now in use.

    Raises:
        RuntimeError: The client is not laid out as these redis-py versions lay it out (rather
            than let connections log in without the secret).
    """
    kwargs = client.get_connection_kwargs()
    manager = client.nodes_manager
    ours = classes.get(kwargs.get("connection_class"))  # type: ignore[arg-type]
    nodes = list(manager.startup_nodes.values())
    if (
        ours is None
        or manager.connection_kwargs is not kwargs
        or manager.nodes_cache
        or any(node.connection_class is not kwargs["connection_class"] for node in nodes)
    ):
        raise RuntimeError(
            "awsrefs_redis: this redis-py's asyncio RedisCluster is not supported "
            f"(redis-py {redis.__version__})"
        )
    kwargs["connection_class"] = ours
    for node in nodes:
        node.connection_class = ours
    return ours
