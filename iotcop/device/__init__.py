"""The live device: scope, connections (every one through ``net.Network``), discovery, protocol probes."""
