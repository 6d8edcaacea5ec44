//! Physical interrupts a partition's manifest declares: each device region's `interrupts`
//! property, pairs of (INTID, attributes) in Hafnium's encoding.
//!
//! The attributes word (Hafnium's `INT_INFO_ATTR_*`): bits \[7:0\] priority, bit 8 security
//! state (1 secure), bit 9 trigger (0 edge, 1 level), bits \[11:10\] type (2 SPI, 1 PPI,
//! 0 SGI). OP-TEE/build's `<0x28 0x901>` is INTID 40, priority 1, secure, edge, SPI. This
//! SPMC refuses the bits above 11, SGIs, and a type that does not match the INTID's range.

use core::fmt;

/// Most interrupts one partition may declare (Hafnium's `VM_MANIFEST_MAX_INTERRUPTS`).
pub const MAX_INTERRUPTS: usize = 32;

/// First PPI INTID.
const PPI_FIRST: u32 = 16;
/// First SPI INTID.
const SPI_FIRST: u32 = 32;
/// Last SPI INTID (1020..1023 are special).
const SPI_LAST: u32 = 1019;

/// A GIC interrupt ID a partition may own: a PPI (16..=31) or an SPI (32..=1019); or an SGI
/// the SPMC configures for the normal world ([`IntId::sgi`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IntId(u32);

impl IntId {
    /// `raw` if it is a PPI or an SPI.
    pub const fn new(raw: u32) -> Option<Self> {
        if raw >= PPI_FIRST && raw <= SPI_LAST {
            Some(Self(raw))
        } else {
            None
        }
    }

    /// SGI `raw` (0..=15): only for the SGIs the SPMC itself hands to the normal world
    /// (the schedule-receiver interrupt); partitions never own one.
    pub const fn sgi(raw: u32) -> Option<Self> {
        if raw < PPI_FIRST {
            Some(Self(raw))
        } else {
            None
        }
    }

    /// The INTID.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether it is private to a CPU (a PPI, configured in that CPU's redistributor).
    pub const fn is_private(self) -> bool {
        self.0 < SPI_FIRST
    }
}

impl fmt::Display for IntId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How the interrupt line signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Edge-triggered (attribute bit 9 clear).
    Edge,
    /// Level-sensitive (bit 9 set).
    Level,
}

/// The security state an interrupt is configured for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityState {
    /// Secure Group 1: taken at S-EL2 (or EL3 while the normal world runs, then FFA_INTERRUPT).
    Secure,
    /// Non-secure Group 1: the normal world's.
    NonSecure,
}

/// One declared interrupt, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclaredInterrupt {
    /// Its INTID.
    pub intid: IntId,
    /// GIC priority (lower is more urgent).
    pub priority: u8,
    /// Secure or non-secure.
    pub security: SecurityState,
    /// Edge or level.
    pub trigger: Trigger,
}

/// Why an `interrupts` entry was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadInterrupt {
    /// The INTID is not a PPI or an SPI.
    IntId(u32),
    /// The attributes word sets bits Hafnium does not define, names an SGI, or a type that
    /// does not match the INTID.
    Attributes(u32),
}

const PRIORITY_MASK: u32 = 0xff;
const SECURE_BIT: u32 = 1 << 8;
const LEVEL_BIT: u32 = 1 << 9;
const TYPE_SHIFT: u32 = 10;
const TYPE_MASK: u32 = 0b11;
const TYPE_PPI: u32 = 1;
const TYPE_SPI: u32 = 2;
const KNOWN_BITS: u32 = PRIORITY_MASK | SECURE_BIT | LEVEL_BIT | (TYPE_MASK << TYPE_SHIFT);

impl DeclaredInterrupt {
    /// Decodes one (INTID, attributes) pair of a manifest.
    pub fn from_manifest(intid: u32, attributes: u32) -> Result<Self, BadInterrupt> {
        let id = IntId::new(intid).ok_or(BadInterrupt::IntId(intid))?;
        let bad = BadInterrupt::Attributes(attributes);
        if attributes & !KNOWN_BITS != 0 {
            return Err(bad);
        }
        let expected = if id.is_private() { TYPE_PPI } else { TYPE_SPI };
        if (attributes >> TYPE_SHIFT) & TYPE_MASK != expected {
            return Err(bad);
        }
        Ok(Self {
            intid: id,
            priority: (attributes & PRIORITY_MASK) as u8,
            security: if attributes & SECURE_BIT != 0 {
                SecurityState::Secure
            } else {
                SecurityState::NonSecure
            },
            trigger: if attributes & LEVEL_BIT != 0 {
                Trigger::Level
            } else {
                Trigger::Edge
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optee_uart1_decodes_as_hafnium_does() {
        let d = DeclaredInterrupt::from_manifest(0x28, 0x901).unwrap();
        assert_eq!(d.intid.get(), 40);
        assert_eq!(d.priority, 1);
        assert_eq!(d.security, SecurityState::Secure);
        assert_eq!(d.trigger, Trigger::Edge);
        assert!(!d.intid.is_private());
        let level_ns_ppi = DeclaredInterrupt::from_manifest(27, 0x6a0).unwrap();
        assert_eq!(level_ns_ppi.security, SecurityState::NonSecure);
        assert_eq!(level_ns_ppi.trigger, Trigger::Level);
        assert_eq!(level_ns_ppi.priority, 0xa0);
        assert!(level_ns_ppi.intid.is_private());
    }

    #[test]
    fn sgis_special_ids_wrong_types_and_unknown_bits_are_refused() {
        assert_eq!(
            DeclaredInterrupt::from_manifest(8, 0x100),
            Err(BadInterrupt::IntId(8))
        );
        assert_eq!(
            DeclaredInterrupt::from_manifest(1020, 0x900),
            Err(BadInterrupt::IntId(1020))
        );
        // An SPI declared as a PPI, a PPI as an SPI, an SGI type.
        assert!(DeclaredInterrupt::from_manifest(40, 0x501).is_err());
        assert!(DeclaredInterrupt::from_manifest(20, 0x901).is_err());
        assert!(DeclaredInterrupt::from_manifest(40, 0x101).is_err());
        assert_eq!(
            DeclaredInterrupt::from_manifest(40, 0x1901),
            Err(BadInterrupt::Attributes(0x1901))
        );
    }
}
