//! OP-TEE OS, as Debian's source builds it and OP-TEE/build's manifest describes it, answering
//! the normal world: the driver's first calls (Linux's `optee_ffa_probe`), made by the NS-EL1
//! client through the proxy. These run only on the client stack on QEMU (OP-TEE is not a Rust
//! partition: the in-process stack has none).
//!
//! OP-TEE's FF-A ABI (`optee_ffa.h`): a blocking call is a DIRECT_REQ_32 with the service in w3;
//! the answer's w3..w5 are GET_API_VERSION (1, 0), GET_OS_VERSION (major, minor, commit) and
//! EXCHANGE_CAPABILITIES (0 = OK, the RPC parameter count, capability bits: bit 0 = arguments
//! at an offset in shared memory).

use ffa::{Uuid, Version};

use crate::Client;
use crate::calls::{HOST_ID, direct_req32_on, partition_info_get, read_rx, rx_release, start};
use crate::check::{Failure, Value, expect_eq, expect_success};
use crate::sp::response32;

const V1_2: Version = Version(1, 2);

/// OP-TEE's UUID, 486178e0-e7f8-11e3-bc5e-0002a5d5c51b: what Linux's driver binds to.
pub const OPTEE_UUID: Uuid = Uuid::from_u128(0x4861_78e0_e7f8_11e3_bc5e_0002_a5d5_c51b);
/// The ID the SPMC gives it: its manifest says `id = <1>`, not a secure-world ID, and it is
/// the SPMC manifest's vm5, so 0x8005 as Hafnium assigns it.
pub const OPTEE_ID: u16 = 0x8005;
/// Its manifest's `execution-ctx-count`.
const OPTEE_CONTEXTS: u64 = 8;

const GET_API_VERSION: u64 = 0;
const GET_OS_VERSION: u64 = 1;
const EXCHANGE_CAPABILITIES: u64 = 2;
const SEC_CAP_ARG_OFFSET: u64 = 1;

/// Discovery finds OP-TEE by its UUID with the ID and contexts its manifest implies, and on
/// every core it answers the probe's three calls with its own values.
pub fn optee_answers_the_driver_probe(c: &mut dyn Client) -> Result<(), Failure> {
    start(c, V1_2)?;
    let answer = partition_info_get(c, OPTEE_UUID, false);
    expect_success("FFA_PARTITION_INFO_GET(OP-TEE's UUID)", &answer)?;
    expect_eq("partitions with OP-TEE's UUID", 1, answer[2] & 0xffff_ffff)?;
    let entry: [u8; 24] = read_rx(c);
    expect_success("FFA_RX_RELEASE", &rx_release(c, HOST_ID))?;
    let id = u16::from_le_bytes([entry[0], entry[1]]);
    expect_eq("OP-TEE's partition ID", OPTEE_ID.into(), id.into())?;
    let contexts = u16::from_le_bytes([entry[2], entry[3]]);
    expect_eq(
        "OP-TEE's execution contexts",
        OPTEE_CONTEXTS,
        contexts.into(),
    )?;

    for cpu in 0..crate::CPUS {
        let api = probe(c, cpu, "OP-TEE GET_API_VERSION", GET_API_VERSION)?;
        expect_eq("OP-TEE's FF-A ABI major version", 1, api[0])?;
        let os = probe(c, cpu, "OP-TEE GET_OS_VERSION", GET_OS_VERSION)?;
        if (os[0], os[1]) < (4, 10) {
            return Err(Failure::new(
                "OP-TEE's OS version (4.10 or newer)",
                Value::Word(0x0004_000a),
                Value::Word(os[0] << 16 | os[1]),
            ));
        }
        let caps = probe(
            c,
            cpu,
            "OP-TEE EXCHANGE_CAPABILITIES",
            EXCHANGE_CAPABILITIES,
        )?;
        expect_eq("EXCHANGE_CAPABILITIES status", 0, caps[0])?;
        expect_eq("OP-TEE's RPC parameter count", 4, caps[1])?;
        expect_eq(
            "OP-TEE's argument-offset capability",
            SEC_CAP_ARG_OFFSET,
            caps[2] & SEC_CAP_ARG_OFFSET,
        )?;
    }
    Ok(())
}

/// A blocking OP-TEE call by DIRECT_REQ_32 on `cpu`: w3..w5 of its answer.
fn probe(
    c: &mut dyn Client,
    cpu: u16,
    what: &'static str,
    service: u64,
) -> Result<[u64; 3], Failure> {
    let answer = direct_req32_on(c, cpu, HOST_ID, OPTEE_ID, [service, 0, 0, 0, 0]);
    let words = response32(what, &answer, OPTEE_ID)?;
    Ok([words[0], words[1], words[2]])
}
