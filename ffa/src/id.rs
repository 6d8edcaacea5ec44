//! Endpoint IDs and the world each one belongs to.

/// A 16-bit FF-A endpoint ID. Bit 15 set means a secure-world endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub u16);

/// The security state an endpoint lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// Normal (non-secure) world: the host, its VMs, the hypervisor.
    Normal,
    /// Secure world: partitions, the SPMC, the SPMD.
    Secure,
}

impl EndpointId {
    /// The hypervisor, or the host OS when there is none (FF-A reserves 0 for it).
    pub const HOST: Self = Self(0);
    /// The SPMD at EL3.
    pub const SPMD: Self = Self(0xffff);
    /// The SPMC's ID unless its manifest names another.
    pub const DEFAULT_SPMC: Self = Self(0x8000);

    const SECURE_BIT: u16 = 1 << 15;

    /// Which world this ID belongs to.
    pub const fn world(self) -> World {
        if self.0 & Self::SECURE_BIT != 0 {
            World::Secure
        } else {
            World::Normal
        }
    }

    /// Whether this is a secure-world ID.
    pub const fn is_secure(self) -> bool {
        matches!(self.world(), World::Secure)
    }
}

/// Packs a source and destination ID the way direct messages carry them in w1.
pub const fn pack_src_dst(src: EndpointId, dst: EndpointId) -> u32 {
    ((src.0 as u32) << 16) | dst.0 as u32
}

/// Splits w1 of a direct message into (source, destination).
pub const fn unpack_src_dst(w1: u32) -> (EndpointId, EndpointId) {
    (EndpointId((w1 >> 16) as u16), EndpointId(w1 as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit15_decides_the_world() {
        assert_eq!(EndpointId(0).world(), World::Normal);
        assert_eq!(EndpointId(0x7fff).world(), World::Normal);
        assert_eq!(EndpointId(0x8000).world(), World::Secure);
        assert_eq!(EndpointId::SPMD.world(), World::Secure);
        let w1 = pack_src_dst(EndpointId(0x8001), EndpointId(3));
        assert_eq!(w1, 0x8001_0003);
        assert_eq!(unpack_src_dst(w1), (EndpointId(0x8001), EndpointId(3)));
    }
}
