"""Discovery: cameras on the network, and this server announcing itself to operator clients."""
