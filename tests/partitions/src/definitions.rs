//! The fixed set of test partitions, as data. The manifests in `sp-manifests/` and the harness's
//! generated manifests say exactly this.

use ffa::partition_info::properties;
use ffa::{Uuid, Version};

/// Which behaviour a partition runs (all three speak [`crate::protocol`]; they differ in the
/// version, messaging methods and execution contexts their manifests give them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// FF-A v1.2 UP partition with one UUID.
    Echo,
    /// FF-A v1.2 MP partition with two UUIDs.
    Relay,
    /// FF-A v1.1 UP partition without a manifest ID, DIRECT_REQ only.
    Legacy,
    /// FF-A v1.2 UP partition the scenarios use to attack the SPMC, the other partitions and
    /// the normal world (`scenarios::isolation::hostile_partition_is_contained`).
    Hostile,
}

/// One test partition's manifest values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Definition {
    /// Manifest `description`.
    pub name: &'static str,
    /// Its behaviour.
    pub kind: Kind,
    /// Manifest `id`; `None` lets the SPMC assign one.
    pub id: Option<u16>,
    /// The ID it runs with: the manifest's, or the one the SPMC assigns at boot.
    pub endpoint_id: u16,
    /// Manifest `uuid`s, primary first.
    pub uuids: &'static [Uuid],
    /// Manifest `ffa-version`.
    pub ffa_version: Version,
    /// Manifest `execution-ctx-count`.
    pub exec_ctx_count: u16,
    /// Manifest `messaging-method`.
    pub messaging: u32,
    /// Manifest `boot-order`.
    pub boot_order: u16,
    /// Manifest `load-address` (IPA == PA).
    pub load_address: u64,
    /// Bytes of secure memory it owns from `load_address` (SPMC manifest `vmN/mem_size`).
    pub memory_size: u64,
    /// Manifest `entrypoint-offset`.
    pub entrypoint_offset: u64,
    /// Manifest `gp-register-num`: the register its boot-information blob comes in (the
    /// manifest then asks for the manifest in the blob).
    pub boot_info_register: Option<u8>,
    /// Offset from `load_address` of the warm-boot entry an MP partition registers with
    /// FFA_SECONDARY_EP_REGISTER while it initialises (`None`: it registers none).
    pub secondary_entry_offset: Option<u64>,
    /// Manifest `notification-support`: it receives notifications.
    pub notifications: bool,
}

/// The SPMC's endpoint ID in the stack these partitions run in (SPMC manifest `spmc_id`).
pub const SPMC_ID: u16 = 0x8000;

/// echo's endpoint ID.
pub const ECHO_ID: u16 = 0x8001;
/// relay's endpoint ID.
pub const RELAY_ID: u16 = 0x8002;
/// legacy's endpoint ID: its manifest has none, and the SPMC assigns the lowest free secure ID
/// after the manifest IDs.
pub const LEGACY_ID: u16 = 0x8003;

/// hostile's endpoint ID.
pub const HOSTILE_ID: u16 = 0x8004;

/// echo's UUID.
pub const ECHO_UUID: Uuid = Uuid::from_u128(0x2f6d6c1a_9b3e_4c4f_8e2a_5d7b1c0a9e31);
/// relay's first (primary) UUID.
pub const RELAY_UUID_A: Uuid = Uuid::from_u128(0x7c1f3a2e_5d4b_4e6a_9f80_1b2c3d4e5f60);
/// relay's second UUID.
pub const RELAY_UUID_B: Uuid = Uuid::from_u128(0xa9e8d7c6_b5a4_4392_8170_6f5e4d3c2b1a);
/// legacy's UUID.
pub const LEGACY_UUID: Uuid = Uuid::from_u128(0x0d1e2f30_4152_4637_8899_aabbccddeeff);
/// hostile's UUID.
pub const HOSTILE_UUID: Uuid = Uuid::from_u128(0x6b05_71e0_3c2d_4a9b_b1f4_0d6e_8a7c_5b13);
/// A UUID no partition has (for the "unknown UUID" rejections).
pub const FOREIGN_UUID: Uuid = Uuid::from_u128(0x5ca1ab1e_0000_4000_8000_0000deadbeef);

/// messaging-method: receives DIRECT_REQ.
pub const DIRECT_REQ_RECV: u32 = 1 << 0;
/// messaging-method: sends DIRECT_REQ.
pub const DIRECT_REQ_SEND: u32 = 1 << 1;
/// messaging-method: sends and receives indirect messages (FFA_MSG_SEND2).
pub const INDIRECT_MSG: u32 = 1 << 2;
/// messaging-method: receives DIRECT_REQ2.
pub const DIRECT_REQ2_RECV: u32 = 1 << 9;
/// messaging-method: sends DIRECT_REQ2.
pub const DIRECT_REQ2_SEND: u32 = 1 << 10;

/// Virtual addresses `[start, end)` a partition's stage 1 maps to the non-secure IPA space
/// (QEMU `virt`'s DRAM): where it reaches normal-world memory it retrieved.
pub const NON_SECURE_WINDOW: (u64, u64) = (0x4000_0000, 0x8000_0000);

/// Offset of each partition's RX buffer from its load address (after its image, inside its
/// memory); the TX buffer follows it.
pub const RX_OFFSET: u64 = 0x8_0000;
/// Offset of the TX buffer.
pub const TX_OFFSET: u64 = 0x8_1000;
/// Pages of each partition buffer.
pub const MAILBOX_PAGES: u32 = 1;
/// Offset of the partition manifest in its SPKG package (the package starts at the load
/// address; the SPMC puts the boot-information blob over the package header).
pub const MANIFEST_OFFSET: u64 = 0x1000;

/// echo.
pub const ECHO: Definition = Definition {
    name: "echo",
    kind: Kind::Echo,
    id: Some(ECHO_ID),
    endpoint_id: ECHO_ID,
    uuids: &[ECHO_UUID],
    ffa_version: Version(1, 2),
    exec_ctx_count: 1,
    messaging: DIRECT_REQ_RECV
        | DIRECT_REQ_SEND
        | INDIRECT_MSG
        | DIRECT_REQ2_RECV
        | DIRECT_REQ2_SEND,
    boot_order: 0,
    load_address: 0x0e30_0000,
    memory_size: 0x10_0000,
    entrypoint_offset: 0x4000,
    boot_info_register: Some(0),
    secondary_entry_offset: None,
    notifications: true,
};

/// relay.
pub const RELAY: Definition = Definition {
    name: "relay",
    kind: Kind::Relay,
    id: Some(RELAY_ID),
    endpoint_id: RELAY_ID,
    uuids: &[RELAY_UUID_A, RELAY_UUID_B],
    ffa_version: Version(1, 2),
    exec_ctx_count: 4,
    messaging: DIRECT_REQ_RECV
        | DIRECT_REQ_SEND
        | INDIRECT_MSG
        | DIRECT_REQ2_RECV
        | DIRECT_REQ2_SEND,
    boot_order: 1,
    load_address: 0x0e40_0000,
    memory_size: 0x10_0000,
    entrypoint_offset: 0x4000,
    boot_info_register: Some(0),
    // A second entry in its image, as partitions with a separate warm-boot path have.
    secondary_entry_offset: Some(0x4100),
    notifications: true,
};

/// legacy.
pub const LEGACY: Definition = Definition {
    name: "legacy",
    kind: Kind::Legacy,
    id: None,
    endpoint_id: LEGACY_ID,
    uuids: &[LEGACY_UUID],
    ffa_version: Version(1, 1),
    exec_ctx_count: 1,
    messaging: DIRECT_REQ_RECV | DIRECT_REQ_SEND | INDIRECT_MSG,
    boot_order: 2,
    load_address: 0x0e50_0000,
    memory_size: 0x10_0000,
    entrypoint_offset: 0x4000,
    boot_info_register: Some(0),
    secondary_entry_offset: None,
    notifications: true,
};

/// hostile: what any partition may do, done on purpose (the scenarios drive its attacks).
pub const HOSTILE: Definition = Definition {
    name: "hostile",
    kind: Kind::Hostile,
    id: Some(HOSTILE_ID),
    endpoint_id: HOSTILE_ID,
    uuids: &[HOSTILE_UUID],
    ffa_version: Version(1, 2),
    exec_ctx_count: 1,
    messaging: DIRECT_REQ_RECV | DIRECT_REQ_SEND,
    boot_order: 3,
    load_address: 0x0e60_0000,
    memory_size: 0x10_0000,
    entrypoint_offset: 0x4000,
    boot_info_register: Some(0),
    secondary_entry_offset: None,
    // Neither notifications nor indirect messages: the scenarios' receiver without them.
    notifications: false,
};

/// Every test partition, in boot order.
pub const DEFINITIONS: &[Definition] = &[ECHO, RELAY, LEGACY, HOSTILE];

/// The partition running with endpoint ID `id`.
pub fn by_id(id: u16) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|d| d.endpoint_id == id)
}

/// The partition named `name`.
pub fn by_name(name: &str) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|d| d.name == name)
}

impl Definition {
    /// Address of its RX buffer (addresses wrap rather than panic on a nonsensical definition).
    pub const fn rx_buffer(&self) -> u64 {
        self.load_address.wrapping_add(RX_OFFSET)
    }

    /// Address of its TX buffer.
    pub const fn tx_buffer(&self) -> u64 {
        self.load_address.wrapping_add(TX_OFFSET)
    }

    /// Address the SPMC enters it at.
    pub const fn entry_point(&self) -> u64 {
        self.load_address.wrapping_add(self.entrypoint_offset)
    }

    /// Address of its manifest (in its package).
    pub const fn manifest_address(&self) -> u64 {
        self.load_address.wrapping_add(MANIFEST_OFFSET)
    }

    /// Address of the warm-boot entry it registers, if it registers one.
    pub const fn secondary_entry_point(&self) -> Option<u64> {
        match self.secondary_entry_offset {
            Some(offset) => Some(self.load_address.wrapping_add(offset)),
            None => None,
        }
    }

    /// Whether `[addr, addr + len)` lies inside its memory.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        addr >= self.load_address
            && self
                .load_address
                .checked_add(self.memory_size)
                .is_some_and(|top| end <= top)
    }

    /// Index of `uuid` among its UUIDs.
    pub fn uuid_index(&self, uuid: &Uuid) -> Option<usize> {
        self.uuids.iter().position(|u| u == uuid)
    }

    /// The partition properties FFA_PARTITION_INFO_GET reports for it to a caller at
    /// `caller_version`: its manifest's messaging bits (whose positions are the property
    /// bits'), the DIRECT_REQ2 ones only for a v1.2 partition, the send bits only to a secure
    /// caller (partitions cannot send requests to the normal world; Hafnium reports them so),
    /// a PE endpoint ID, AArch64, notification support (v1.1+ partitions with `notification-support`),
    /// cut to the bits `caller_version` defines.
    pub fn properties(&self, caller_version: Version, caller_secure: bool) -> u32 {
        let mut shown = properties::DIRECT_REQ_RECV | properties::INDIRECT_MSG;
        if self.ffa_version >= Version(1, 2) {
            shown |= properties::DIRECT_REQ2_RECV;
        }
        if caller_secure {
            shown |= properties::DIRECT_REQ_SEND;
            if self.ffa_version >= Version(1, 2) {
                shown |= properties::DIRECT_REQ2_SEND;
            }
        }
        let mut props =
            (self.messaging & shown) | properties::ID_TYPE_PE_ENDPOINT | properties::AARCH64;
        if self.notifications && self.ffa_version >= Version(1, 1) {
            props |= properties::NOTIFICATION_RECV;
        }
        ffa::partition_info::properties_for_version(props, caller_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_uuids_are_distinct() {
        for (i, a) in DEFINITIONS.iter().enumerate() {
            assert!(a.endpoint_id & 0x8000 != 0, "{} must be secure", a.name);
            assert_ne!(a.endpoint_id, SPMC_ID);
            for b in &DEFINITIONS[i + 1..] {
                assert_ne!(a.endpoint_id, b.endpoint_id);
                assert!(a.uuids.iter().all(|u| !b.uuids.contains(u)));
                assert!(a.load_address + a.memory_size <= b.load_address);
            }
            assert!(!a.uuids.contains(&FOREIGN_UUID));
            assert!(a.contains(a.rx_buffer(), 4096) && a.contains(a.tx_buffer(), 4096));
            assert!(a.contains(a.entry_point(), 4));
            if let Some(warm) = a.secondary_entry_point() {
                assert!(
                    a.exec_ctx_count > 1,
                    "{}: only MP partitions register",
                    a.name
                );
                assert!(a.contains(warm, 4) && warm != a.entry_point());
            }
        }
        assert_eq!(by_id(LEGACY_ID).map(|d| d.name), Some("legacy"));
        assert_eq!(by_name("relay").map(|d| d.endpoint_id), Some(RELAY_ID));
        assert_eq!(RELAY.uuid_index(&RELAY_UUID_B), Some(1));
    }

    #[test]
    fn uuids_spell_the_manifest_strings() {
        assert_eq!(
            std::format!("{ECHO_UUID}"),
            "2f6d6c1a-9b3e-4c4f-8e2a-5d7b1c0a9e31"
        );
        assert_eq!(
            std::format!("{RELAY_UUID_B}"),
            "a9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a"
        );
    }

    #[test]
    fn properties_follow_messaging_and_caller_version() {
        assert_eq!(ECHO.properties(Version(1, 2), true), 0x70f);
        assert_eq!(ECHO.properties(Version(1, 2), false), 0x30d);
        assert_eq!(ECHO.properties(Version(1, 1), true), 0x10f);
        assert_eq!(ECHO.properties(Version(1, 0), true), 0x007);
        assert_eq!(ECHO.properties(Version(1, 0), false), 0x005);
        assert_eq!(LEGACY.properties(Version(1, 2), true), 0x10f);
        assert_eq!(LEGACY.properties(Version(1, 2), false), 0x10d);
        assert_eq!(HOSTILE.properties(Version(1, 2), true), 0x103);
    }

    #[test]
    fn containment_rejects_overflow_and_edges() {
        assert!(!ECHO.contains(u64::MAX, 2));
        assert!(!ECHO.contains(ECHO.load_address - 1, 1));
        assert!(ECHO.contains(ECHO.load_address + ECHO.memory_size - 1, 1));
        assert!(!ECHO.contains(ECHO.load_address + ECHO.memory_size, 1));
    }
}
