//! Hafnium paravirtual call IDs that existing partitions (OP-TEE, the FF-A ACS) use.
