from .bifpn import BiFPN, bifpn_topology

__all__ = ['BiFPN', 'bifpn_topology']
