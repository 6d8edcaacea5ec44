//! Memory sharing between partitions: a partition shares or lends a page of its own memory,
//! another retrieves it, stores through it and relinquishes it, and the lender reclaims it and
//! finds what was stored (FF-A v1.2 §11). The SPMC maps the page into the borrower's stage 2
//! for as long as it holds it, and takes a lent page away from the lender until it reclaims
//! it: the loads of a partition that does not hold the page fault into its own handler.
//!
//! The normal world shares its own memory too (through the proxy, which holds the pages until
//! it reclaims them): the borrower retrieves it into its non-secure IPA space, which the test
//! partitions' stage 1 reaches through the NS bit (`NON_SECURE_WINDOW`): echo writes through
//! such a page and the normal world reads the value back.

use ffa::{FfaError, Version};
use test_partitions::definitions::ECHO;
use test_partitions::protocol::{CallStatus, Command, RETRIEVE_KEEP, SHARE_OFFSET, lend, probe};
use test_partitions::{ECHO_ID, LEGACY_ID, RELAY_ID};

use crate::Client;
use crate::calls::{HOST_ID, map_mailbox, negotiate};
use crate::check::{Failure, expect_call, expect_eq};
use crate::sp::{command32, command32_on};

/// FFA_MEM_RECLAIM, FFA_SUCCESS_32 and FFA_ERROR (w0).
const MEM_RECLAIM: u64 = 0x8400_0077;
const SUCCESS32: u64 = 0x8400_0061;
const ERROR: u64 = 0x8400_0060;

/// `from` gives page `page` of its memory to `to` (`kind`); returns the handle.
fn give(c: &mut dyn Client, from: u16, kind: u64, page: u64, to: u16) -> Result<u64, Failure> {
    let words = command32(c, "LEND", from, Command::Lend, &[kind, page, u64::from(to)])?;
    expect_call(
        "FFA_MEM_SHARE/LEND of its own page",
        words[1],
        CallStatus::Success,
    )?;
    Ok(words[2] | words[3] << 32)
}

/// `who` retrieves `handle` from `lender` on `cpu`, stores `value` in it and relinquishes it;
/// returns the address it got.
fn borrow(
    c: &mut dyn Client,
    cpu: u16,
    who: u16,
    handle: u64,
    lender: u16,
    value: u64,
) -> Result<u64, Failure> {
    let words = command32_on(
        c,
        cpu,
        "RETRIEVE",
        who,
        Command::Retrieve,
        &[handle & 0xffff_ffff, handle >> 32, u64::from(lender), value],
    )?;
    expect_call("FFA_MEM_RETRIEVE_REQ", words[1], CallStatus::Success)?;
    expect_eq(
        "the value read back through the retrieved page",
        value,
        words[3],
    )?;
    expect_call("FFA_MEM_RELINQUISH", words[4], CallStatus::Success)?;
    Ok(words[2])
}

/// `who` loads the word at `addr`: the value, or None if the load faulted.
fn load(c: &mut dyn Client, who: u16, addr: u64) -> Result<Option<u64>, Failure> {
    let words = command32(
        c,
        "PROBE",
        who,
        Command::Probe,
        &[addr & 0xffff_ffff, addr >> 32],
    )?;
    Ok((words[1] == probe::READ).then_some(words[2] | words[3] << 32))
}

fn reclaim(c: &mut dyn Client, who: u16, handle: u64) -> Result<[u64; 5], Failure> {
    command32(
        c,
        "CALL FFA_MEM_RECLAIM",
        who,
        Command::Call,
        &[MEM_RECLAIM, handle & 0xffff_ffff, handle >> 32, 0],
    )
}

/// echo lends a page to legacy (v1.1) and shares another with relay (MP): each borrower
/// stores through its page and gives it back; echo has no access to the lent page meanwhile
/// and keeps access to the shared one; after the reclaims echo reads what the borrowers
/// stored, and their own access is gone. A reclaimed handle is stale for everyone.
pub fn partitions_lend_and_share_memory(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, Version(1, 2))?;
    let page0 = ECHO.load_address + SHARE_OFFSET;
    let page1 = page0 + 0x1000;

    let lent = give(c, ECHO_ID, lend::LEND, 0, LEGACY_ID)?;
    expect_eq(
        "echo's load of the page it lent faulted (1: yes)",
        1,
        u64::from(load(c, ECHO_ID, page0)?.is_none()),
    )?;
    let at = borrow(c, 0, LEGACY_ID, lent, ECHO_ID, 0x5a5a_1234)?;
    expect_eq("the page legacy got", page0, at)?;
    expect_eq(
        "legacy's load after it relinquished faulted (1: yes)",
        1,
        u64::from(load(c, LEGACY_ID, page0)?.is_none()),
    )?;
    let words = reclaim(c, ECHO_ID, lent)?;
    expect_eq("w0 of echo's FFA_MEM_RECLAIM", SUCCESS32, words[1])?;
    expect_eq(
        "what echo reads back after the reclaim",
        0x5a5a_1234,
        load(c, ECHO_ID, page0)?.unwrap_or(u64::MAX),
    )?;

    let shared = give(c, ECHO_ID, lend::SHARE, 1, RELAY_ID)?;
    expect_eq(
        "echo still reads the page it shares (1: yes)",
        1,
        u64::from(load(c, ECHO_ID, page1)?.is_some()),
    )?;
    let at = borrow(c, 0, RELAY_ID, shared, ECHO_ID, 0x0bad_cafe)?;
    expect_eq("the page relay got", page1, at)?;
    let words = reclaim(c, ECHO_ID, shared)?;
    expect_eq("w0 of echo's second FFA_MEM_RECLAIM", SUCCESS32, words[1])?;
    expect_eq(
        "what echo reads back",
        0x0bad_cafe,
        load(c, ECHO_ID, page1)?.unwrap_or(u64::MAX),
    )?;

    let words = command32(
        c,
        "RETRIEVE of a reclaimed handle",
        LEGACY_ID,
        Command::Retrieve,
        &[lent & 0xffff_ffff, lent >> 32, u64::from(ECHO_ID), 1],
    )?;
    expect_call(
        "retrieve of a reclaimed handle",
        words[1],
        CallStatus::error(FfaError::InvalidParameters),
    )?;
    let words = reclaim(c, ECHO_ID, lent)?;
    expect_eq("w0 of a second reclaim", ERROR, words[1])?;
    expect_eq(
        "w2 of a second reclaim",
        u64::from(i32::from(FfaError::InvalidParameters) as u32),
        words[3],
    )?;
    Ok(())
}

/// Host memory the normal-world scenario shares (unused by the clients).
const HOST_PAGE: u64 = 0x4900_0000;
/// FFA_MEM_SHARE_64.
const MEM_SHARE64: u64 = 0xc400_0073;

/// The normal world shares a page with echo (v1.2 descriptors); echo retrieves and
/// relinquishes it; the normal world reclaims it, once. A share naming another sender, or
/// the same page while it is shared, is refused.
pub fn normal_world_shares_memory(c: &mut dyn Client) -> Result<(), Failure> {
    shares_at(c, Version(1, 2))
}

/// The same with FF-A v1.1's descriptors (16-byte access descriptors).
pub fn normal_world_shares_memory_v1_1(c: &mut dyn Client) -> Result<(), Failure> {
    shares_at(c, Version(1, 1))
}

/// The same with FF-A v1.0's descriptors (the 32-byte header).
pub fn normal_world_shares_memory_v1_0(c: &mut dyn Client) -> Result<(), Failure> {
    shares_at(c, Version(1, 0))
}

fn shares_at(c: &mut dyn Client, version: Version) -> Result<(), Failure> {
    negotiate(c, version)?;
    map_mailbox(c)?;
    let layout = ffa::memory::Layout::for_version(version);
    let share = |c: &mut dyn Client, sender: u16| {
        let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
        let len = share_descriptor(sender, layout, &mut buf);
        let tx = c.tx_addr();
        c.write(tx, &buf[..len]);
        let mut regs = [0u64; 18];
        regs[0] = MEM_SHARE64;
        regs[1] = len as u64;
        regs[2] = len as u64;
        c.call_on(0, &regs)
    };
    let answer = share(c, HOST_ID);
    expect_eq(
        "w0 of the normal world's FFA_MEM_SHARE",
        SUCCESS32,
        answer[0] & 0xffff_ffff,
    )?;
    let handle = (answer[2] & 0xffff_ffff) | (answer[3] & 0xffff_ffff) << 32;
    let again = share(c, HOST_ID);
    expect_eq(
        "w0 of a share of a page already shared",
        ERROR,
        again[0] & 0xffff_ffff,
    )?;
    expect_eq(
        "w2 of a share of a page already shared",
        u64::from(i32::from(FfaError::Denied) as u32),
        again[2] & 0xffff_ffff,
    )?;
    let words = command32(
        c,
        "RETRIEVE of the normal world's page",
        ECHO_ID,
        Command::Retrieve,
        &[handle & 0xffff_ffff, handle >> 32, u64::from(HOST_ID), 0],
    )?;
    expect_call("echo's FFA_MEM_RETRIEVE_REQ", words[1], CallStatus::Success)?;
    expect_eq("the page echo got", HOST_PAGE & 0xffff_ffff, words[2])?;
    expect_call("echo's FFA_MEM_RELINQUISH", words[4], CallStatus::Success)?;
    let mut reclaim = [0u64; 18];
    reclaim[0] = MEM_RECLAIM;
    reclaim[1] = handle & 0xffff_ffff;
    reclaim[2] = handle >> 32;
    let answer = c.call_on(0, &reclaim);
    expect_eq(
        "w0 of the normal world's FFA_MEM_RECLAIM",
        SUCCESS32,
        answer[0] & 0xffff_ffff,
    )?;
    let answer = c.call_on(0, &reclaim);
    expect_eq("w0 of a second reclaim", ERROR, answer[0] & 0xffff_ffff)?;
    let wrong = share(c, 0x8002);
    expect_eq(
        "w0 of a share naming another sender",
        ERROR,
        wrong[0] & 0xffff_ffff,
    )?;
    expect_eq(
        "w2 of a share naming another sender",
        u64::from(i32::from(FfaError::InvalidParameters) as u32),
        wrong[2] & 0xffff_ffff,
    )?;
    Ok(())
}

/// A share of [`HOST_PAGE`] from `sender` to echo, read-write, in `layout`, into `buf`.
fn share_descriptor(sender: u16, layout: ffa::memory::Layout, buf: &mut [u8]) -> usize {
    use ffa::memory::{
        AddressRange, BoundedVec, MemTransaction, Receiver, attributes, permissions,
    };
    let mut receivers = BoundedVec::new();
    let _ = receivers.push(Receiver {
        id: ffa::EndpointId(ECHO_ID),
        permissions: permissions::DATA_RW | permissions::INSTRUCTION_NX,
        ..Receiver::default()
    });
    let mut ranges = BoundedVec::new();
    let _ = ranges.push(AddressRange {
        address: HOST_PAGE,
        pages: 1,
    });
    let txn = MemTransaction {
        sender: ffa::EndpointId(sender),
        attributes: attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE,
        flags: 0,
        handle: 0,
        tag: 0,
        receivers,
        ranges,
    };
    txn.write(buf, layout).unwrap_or(0)
}

/// A v1.2 share from the host of `ranges` to `borrower`, read-write, into `buf`; its length.
fn descriptor_of(ranges: &[(u64, u32)], borrower: u16, buf: &mut [u8]) -> usize {
    descriptor_in(ranges, borrower, ffa::memory::Layout::V1_2, buf)
}

/// The same in `layout`.
fn descriptor_in(
    ranges: &[(u64, u32)],
    borrower: u16,
    layout: ffa::memory::Layout,
    buf: &mut [u8],
) -> usize {
    use ffa::memory::{
        AddressRange, BoundedVec, MemTransaction, Receiver, attributes, permissions,
    };
    let mut receivers = BoundedVec::new();
    let _ = receivers.push(Receiver {
        id: ffa::EndpointId(borrower),
        permissions: permissions::DATA_RW | permissions::INSTRUCTION_NX,
        ..Receiver::default()
    });
    let mut list = BoundedVec::new();
    for &(address, pages) in ranges {
        let _ = list.push(AddressRange { address, pages });
    }
    let txn = MemTransaction {
        sender: ffa::EndpointId(HOST_ID),
        attributes: attributes::TYPE_NORMAL | attributes::WRITE_BACK | attributes::INNER_SHAREABLE,
        flags: 0,
        handle: 0,
        tag: 0,
        receivers,
        ranges: list,
    };
    txn.write(buf, layout).unwrap_or(0)
}

/// FFA_MEM_SHARE_64 of `bytes` (put in the client's TX buffer) with these lengths.
fn send_share(c: &mut dyn Client, bytes: &[u8], total: u64, fragment: u64) -> ffa::Regs {
    let tx = c.tx_addr();
    c.write(tx, bytes);
    let mut regs = [0u64; 18];
    regs[0] = MEM_SHARE64;
    regs[1] = total;
    regs[2] = fragment;
    c.call_on(0, &regs)
}

fn expect_refused(what: &'static str, answer: &ffa::Regs, code: FfaError) -> Result<(), Failure> {
    expect_eq(what, ERROR, answer[0] & 0xffff_ffff)?;
    expect_eq(
        what,
        u64::from(i32::from(code) as u32),
        answer[2] & 0xffff_ffff,
    )
}

/// What the stack refuses around a share, whichever side refuses it (the proxy copies and
/// checks the descriptor first, the SPMC again): ranges that overlap, a range of zero pages,
/// a misaligned range, memory outside the normal world's, an unknown borrower, a fragment
/// longer than the whole; a retrieve by a partition that is not a borrower; a reclaim while a
/// borrower holds the memory; a second relinquish; a stale handle.
pub fn memory_sharing_rejections(c: &mut dyn Client) -> Result<(), Failure> {
    negotiate(c, Version(1, 2))?;
    map_mailbox(c)?;
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    for (what, ranges, borrower) in [
        (
            "a share of overlapping ranges",
            &[(HOST_PAGE, 2), (HOST_PAGE + 0x1000, 1)][..],
            ECHO_ID,
        ),
        (
            "a share of memory outside the normal world's",
            &[(0x9000_0000, 1)][..],
            ECHO_ID,
        ),
        (
            "a share to an unknown borrower",
            &[(HOST_PAGE, 1)][..],
            0x8009,
        ),
    ] {
        let len = descriptor_of(ranges, borrower, &mut buf);
        let answer = send_share(c, &buf[..len], len as u64, len as u64);
        expect_refused(what, &answer, FfaError::InvalidParameters)?;
    }
    // Zero pages, and a misaligned address: the last constituent edited by hand.
    for (what, offset, bytes) in [
        (
            "a share of a range of zero pages",
            8usize,
            0u64.to_le_bytes(),
        ),
        (
            "a share of a misaligned range",
            0,
            (HOST_PAGE + 0x800).to_le_bytes(),
        ),
    ] {
        let len = descriptor_of(&[(HOST_PAGE, 1)], ECHO_ID, &mut buf);
        let at = len - 16 + offset;
        let width = if offset == 8 { 4 } else { 8 };
        buf[at..at + width].copy_from_slice(&bytes[..width]);
        let answer = send_share(c, &buf[..len], len as u64, len as u64);
        expect_refused(what, &answer, FfaError::InvalidParameters)?;
    }
    let len = descriptor_of(&[(HOST_PAGE, 1)], ECHO_ID, &mut buf);
    let answer = send_share(c, &buf[..len], len as u64, len as u64 + 16);
    expect_refused(
        "a share whose fragment is longer than the whole",
        &answer,
        FfaError::InvalidParameters,
    )?;

    let answer = send_share(c, &buf[..len], len as u64, len as u64);
    expect_eq("w0 of the share", SUCCESS32, answer[0] & 0xffff_ffff)?;
    let handle = (answer[2] & 0xffff_ffff) | (answer[3] & 0xffff_ffff) << 32;
    let (lo, hi) = (handle & 0xffff_ffff, handle >> 32);
    let words = command32(
        c,
        "RETRIEVE by a partition that is not a borrower",
        LEGACY_ID,
        Command::Retrieve,
        &[lo, hi, u64::from(HOST_ID), 0],
    )?;
    expect_call(
        "legacy's retrieve of echo's memory",
        words[1],
        CallStatus::error(FfaError::InvalidParameters),
    )?;
    let words = command32(
        c,
        "RETRIEVE, kept",
        ECHO_ID,
        Command::Retrieve,
        &[lo, hi, u64::from(HOST_ID) | RETRIEVE_KEEP, 0],
    )?;
    expect_call("echo's retrieve", words[1], CallStatus::Success)?;
    let mut reclaim = [0u64; 18];
    reclaim[0] = MEM_RECLAIM;
    reclaim[1] = lo;
    reclaim[2] = hi;
    let answer = c.call_on(0, &reclaim);
    expect_refused(
        "a reclaim while echo holds the memory",
        &answer,
        FfaError::Denied,
    )?;
    let words = command32(c, "RELINQUISH", ECHO_ID, Command::Relinquish, &[lo, hi])?;
    expect_call("echo's relinquish", words[1], CallStatus::Success)?;
    let words = command32(
        c,
        "RELINQUISH again",
        ECHO_ID,
        Command::Relinquish,
        &[lo, hi],
    )?;
    expect_call(
        "echo's second relinquish",
        words[1],
        CallStatus::error(FfaError::Denied),
    )?;
    let answer = c.call_on(0, &reclaim);
    expect_eq("w0 of the reclaim", SUCCESS32, answer[0] & 0xffff_ffff)?;
    let answer = c.call_on(0, &reclaim);
    expect_refused(
        "a reclaim of a stale handle",
        &answer,
        FfaError::InvalidParameters,
    )
}

/// FFA_MEM_FRAG_RX and FFA_MEM_FRAG_TX (w0).
const MEM_FRAG_RX: u64 = 0x8400_007a;
const MEM_FRAG_TX: u64 = 0x8400_007b;
/// How many one-page ranges the large share has, two pages apart from [`SCATTERED_BASE`].
const SCATTERED: u64 = 600;
const SCATTERED_BASE: u64 = 0x4a00_0000;

/// The large share's constituent `i`.
fn scattered(i: u64) -> (u64, u32) {
    (SCATTERED_BASE + 2 * i * 0x1000, 1)
}

/// Writes the large share's head (v1.2, to echo) at the start of the TX buffer; returns the
/// head's length and the descriptor's whole length.
fn put_scattered_head(
    c: &mut dyn Client,
    layout: ffa::memory::Layout,
) -> Result<(u64, u64), Failure> {
    use ffa::memory::{CONSTITUENT_SIZE, Composite};
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = descriptor_in(&[scattered(0)], ECHO_ID, layout, &mut buf);
    let head_len = len - CONSTITUENT_SIZE;
    let parsed = ffa::memory::DescriptorHead::parse(&buf[..len], len, layout);
    let Ok(mut head) = parsed else {
        return Err(Failure::new(
            "the large share's head parses",
            crate::check::Value::Success,
            crate::check::Value::Word(len as u64),
        ));
    };
    head.composite = Some(Composite {
        total_pages: SCATTERED as u32,
        count: SCATTERED as u32,
        constituents_at: head_len,
    });
    let _ = head.write(&mut buf, layout);
    let tx = c.tx_addr();
    c.write(tx, &buf[..head_len]);
    let total = head_len as u64 + SCATTERED * CONSTITUENT_SIZE as u64;
    Ok((head_len as u64, total))
}

/// Writes constituents `[from, to)` of the large share at `addr`.
fn put_scattered(c: &mut dyn Client, addr: u64, from: u64, to: u64) {
    let mut bytes = [0u8; 16];
    for i in from..to {
        let (address, pages) = scattered(i);
        let _ = ffa::memory::write_constituent(
            &mut bytes,
            &ffa::memory::AddressRange { address, pages },
        );
        c.write(addr + (i - from) * 16, &bytes);
    }
}

fn frag_tx(c: &mut dyn Client, handle: u64, len: u64) -> ffa::Regs {
    let mut regs = [0u64; 18];
    regs[0] = MEM_FRAG_TX;
    regs[1] = handle & 0xffff_ffff;
    regs[2] = handle >> 32;
    regs[3] = len;
    c.call_on(0, &regs)
}

/// The normal world shares 600 scattered pages with echo: the descriptor (9,7 KiB) goes in
/// three fragments of its 4 KiB TX buffer (FFA_MEM_FRAG_TX, each answered FFA_MEM_FRAG_RX
/// with the bytes so far, then FFA_SUCCESS with the handle). echo retrieves it, reading its
/// response in fragments of its own RX buffer (FFA_MEM_FRAG_RX), counts all 600
/// constituents and relinquishes it; the normal world reclaims it (through the proxy, which
/// first reads the whole transaction back with the hypervisor retrieve request, in
/// fragments). A fragment that runs past the whole is refused and the transaction dropped:
/// its pages can be shared again.
pub fn normal_world_shares_600_ranges_in_fragments(c: &mut dyn Client) -> Result<(), Failure> {
    scattered_at(c, Version(1, 2))
}

/// The same with FF-A v1.1's descriptors (the proxy's hypervisor retrieve request too).
pub fn normal_world_shares_600_ranges_in_fragments_v1_1(c: &mut dyn Client) -> Result<(), Failure> {
    scattered_at(c, Version(1, 1))
}

/// The same with FF-A v1.0's descriptors.
pub fn normal_world_shares_600_ranges_in_fragments_v1_0(c: &mut dyn Client) -> Result<(), Failure> {
    scattered_at(c, Version(1, 0))
}

fn scattered_at(c: &mut dyn Client, version: Version) -> Result<(), Failure> {
    negotiate(c, version)?;
    map_mailbox(c)?;
    let layout = ffa::memory::Layout::for_version(version);
    // The head and as many constituents as fill the 4 KiB buffer.
    let (head_len, total) = put_scattered_head(c, layout)?;
    let per_buffer = 0x1000 / 16;
    let first = (0x1000 - head_len) / 16;
    let tx = c.tx_addr();
    put_scattered(c, tx + head_len, 0, first);
    let answer = send_share(c, &[], total, head_len + first * 16);
    expect_eq(
        "w0 of the first fragment's answer",
        MEM_FRAG_RX,
        answer[0] & 0xffff_ffff,
    )?;
    let handle = (answer[1] & 0xffff_ffff) | (answer[2] & 0xffff_ffff) << 32;
    expect_eq("w3: the bytes received", head_len + first * 16, answer[3])?;
    let mut sent = first;
    let mut answer = answer;
    while sent < SCATTERED {
        let n = (SCATTERED - sent).min(per_buffer);
        put_scattered(c, tx, sent, sent + n);
        answer = frag_tx(c, handle, n * 16);
        sent += n;
        if sent < SCATTERED {
            expect_eq(
                "w0 of FFA_MEM_FRAG_TX's answer",
                MEM_FRAG_RX,
                answer[0] & 0xffff_ffff,
            )?;
            expect_eq(
                "w3 of FFA_MEM_FRAG_RX: the bytes received",
                head_len + sent * 16,
                answer[3],
            )?;
        }
    }
    expect_eq(
        "w0 after the last fragment",
        SUCCESS32,
        answer[0] & 0xffff_ffff,
    )?;
    expect_eq(
        "the handle after the last fragment",
        handle,
        (answer[2] & 0xffff_ffff) | (answer[3] & 0xffff_ffff) << 32,
    )?;
    let words = command32(
        c,
        "RETRIEVE of 600 ranges",
        ECHO_ID,
        Command::Retrieve,
        &[handle & 0xffff_ffff, handle >> 32, u64::from(HOST_ID), 0],
    )?;
    expect_call("echo's FFA_MEM_RETRIEVE_REQ", words[1], CallStatus::Success)?;
    expect_eq("the first page echo got", SCATTERED_BASE, words[2])?;
    expect_eq(
        "the constituents echo read in all fragments",
        SCATTERED,
        words[3],
    )?;
    expect_call("echo's FFA_MEM_RELINQUISH", words[4], CallStatus::Success)?;
    let mut reclaim = [0u64; 18];
    reclaim[0] = MEM_RECLAIM;
    reclaim[1] = handle & 0xffff_ffff;
    reclaim[2] = handle >> 32;
    let answer = c.call_on(0, &reclaim);
    expect_eq("w0 of the reclaim", SUCCESS32, answer[0] & 0xffff_ffff)?;

    // A fragment longer than what is left: refused, and the whole transaction is dropped.
    let (head_len, total) = put_scattered_head(c, layout)?;
    put_scattered(c, tx + head_len, 0, first);
    let answer = send_share(c, &[], total, head_len + first * 16);
    expect_eq(
        "w0 of a new first fragment",
        MEM_FRAG_RX,
        answer[0] & 0xffff_ffff,
    )?;
    let dropped = (answer[1] & 0xffff_ffff) | (answer[2] & 0xffff_ffff) << 32;
    let left = total - (head_len + first * 16);
    put_scattered(c, tx, first, first + per_buffer);
    let answer = frag_tx(c, dropped, left + 16);
    expect_refused(
        "a fragment running past the whole",
        &answer,
        FfaError::InvalidParameters,
    )?;
    let answer = frag_tx(c, dropped, 16);
    expect_refused(
        "a fragment of a dropped transaction",
        &answer,
        FfaError::InvalidParameters,
    )?;
    // Its pages are free: a one-page share of the first succeeds.
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = descriptor_in(&[scattered(0)], ECHO_ID, layout, &mut buf);
    let answer = send_share(c, &buf[..len], len as u64, len as u64);
    expect_eq(
        "w0 of a share of a freed page",
        SUCCESS32,
        answer[0] & 0xffff_ffff,
    )?;
    reclaim[1] = answer[2] & 0xffff_ffff;
    reclaim[2] = answer[3] & 0xffff_ffff;
    let answer = c.call_on(0, &reclaim);
    expect_eq("w0 of its reclaim", SUCCESS32, answer[0] & 0xffff_ffff)
}

/// The page the write-through scenario shares (unused elsewhere).
const WRITTEN_PAGE: u64 = 0x4910_0000;

/// The normal world shares a page with echo; echo retrieves it into its non-secure IPA space,
/// stores a value through it (its stage 1 names that space with the NS bit), reads it back and
/// keeps it; the normal world finds the value in its page. echo relinquishes the page, the
/// normal world reclaims it, and echo's load of the page then faults into echo's own handler:
/// the SPMC contains it, and echo answers the next request.
pub fn partition_writes_normal_world_memory(c: &mut dyn Client) -> Result<(), Failure> {
    // One 32-bit argument word of the request.
    const VALUE: u64 = 0xc0de_f00d;
    negotiate(c, Version(1, 2))?;
    map_mailbox(c)?;
    c.write(WRITTEN_PAGE, &[0; 8]);
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let len = descriptor_of(&[(WRITTEN_PAGE, 1)], ECHO_ID, &mut buf);
    let answer = send_share(c, &buf[..len], len as u64, len as u64);
    expect_eq("w0 of the share", SUCCESS32, answer[0] & 0xffff_ffff)?;
    let handle = (answer[2] & 0xffff_ffff) | (answer[3] & 0xffff_ffff) << 32;
    let (lo, hi) = (handle & 0xffff_ffff, handle >> 32);
    let words = command32(
        c,
        "RETRIEVE and store",
        ECHO_ID,
        Command::Retrieve,
        &[lo, hi, u64::from(HOST_ID) | RETRIEVE_KEEP, VALUE],
    )?;
    expect_call("echo's FFA_MEM_RETRIEVE_REQ", words[1], CallStatus::Success)?;
    expect_eq("the page echo got", WRITTEN_PAGE, words[2])?;
    expect_eq("what echo read back through the page", VALUE, words[3])?;
    let mut word = [0u8; 8];
    c.read(WRITTEN_PAGE, &mut word);
    expect_eq(
        "what the normal world reads in the page echo wrote",
        VALUE,
        u64::from_le_bytes(word),
    )?;
    let words = command32(c, "RELINQUISH", ECHO_ID, Command::Relinquish, &[lo, hi])?;
    expect_call("echo's relinquish", words[1], CallStatus::Success)?;
    let mut reclaim = [0u64; 18];
    reclaim[0] = MEM_RECLAIM;
    reclaim[1] = lo;
    reclaim[2] = hi;
    let answer = c.call_on(0, &reclaim);
    expect_eq("w0 of the reclaim", SUCCESS32, answer[0] & 0xffff_ffff)?;
    let after = load(c, ECHO_ID, WRITTEN_PAGE)?;
    expect_eq(
        "echo's load of the reclaimed page went through (1) or faulted (0)",
        0,
        u64::from(after.is_some()),
    )?;
    // Contained: echo still answers.
    let words = command32(
        c,
        "PROBE of its own memory after the fault",
        ECHO_ID,
        Command::Probe,
        &[ECHO.load_address & 0xffff_ffff, ECHO.load_address >> 32],
    )?;
    expect_eq("PROBE's outcome", probe::READ, words[1])
}

/// The page the lend scenario lends (unused elsewhere).
const LENT_PAGE: u64 = 0x4920_0000;
/// FFA_MEM_LEND_64.
const MEM_LEND64: u64 = 0xc400_0072;

/// The normal world lends a page to echo. Behind the proxy the page leaves the host's stage 2
/// at once: the host's own load of it faults (the proxy injects the abort into the host) until
/// it reclaims the page. echo retrieves it (a lend), stores a value through it and
/// relinquishes it; after the reclaim the host reads echo's value. (Without a hypervisor the
/// host keeps reaching the page: nothing below it takes it away.)
pub fn normal_world_lends_memory(c: &mut dyn Client) -> Result<(), Failure> {
    lends_at(c, Version(1, 2))
}

/// The same with FF-A v1.1's descriptors.
pub fn normal_world_lends_memory_v1_1(c: &mut dyn Client) -> Result<(), Failure> {
    lends_at(c, Version(1, 1))
}

/// The same with FF-A v1.0's descriptors.
pub fn normal_world_lends_memory_v1_0(c: &mut dyn Client) -> Result<(), Failure> {
    lends_at(c, Version(1, 0))
}

fn lends_at(c: &mut dyn Client, version: Version) -> Result<(), Failure> {
    const VALUE: u64 = 0x1e4d_5a9e;
    negotiate(c, version)?;
    map_mailbox(c)?;
    c.write(LENT_PAGE, &[0; 8]);
    let mut buf = [0u8; ffa::memory::MAX_ENCODED_LEN];
    let layout = ffa::memory::Layout::for_version(version);
    let len = descriptor_in(&[(LENT_PAGE, 1)], ECHO_ID, layout, &mut buf);
    let tx = c.tx_addr();
    c.write(tx, &buf[..len]);
    let mut lend = [0u64; 18];
    lend[0] = MEM_LEND64;
    lend[1] = len as u64;
    lend[2] = len as u64;
    let answer = c.call_on(0, &lend);
    expect_eq("w0 of the lend", SUCCESS32, answer[0] & 0xffff_ffff)?;
    let handle = (answer[2] & 0xffff_ffff) | (answer[3] & 0xffff_ffff) << 32;
    let (lo, hi) = (handle & 0xffff_ffff, handle >> 32);
    let reachable = u64::from(!c.behind_proxy());
    expect_eq(
        "the host's load of its lent page went through (1) or faulted (0)",
        reachable,
        u64::from(c.probe(LENT_PAGE).is_some()),
    )?;
    let words = command32(
        c,
        "RETRIEVE of the lent page and store",
        ECHO_ID,
        Command::Retrieve,
        &[lo, hi, u64::from(HOST_ID), VALUE],
    )?;
    expect_call("echo's FFA_MEM_RETRIEVE_REQ", words[1], CallStatus::Success)?;
    expect_eq("what echo read back through the page", VALUE, words[3])?;
    expect_call("echo's FFA_MEM_RELINQUISH", words[4], CallStatus::Success)?;
    expect_eq(
        "the host's load of the page, relinquished but not reclaimed",
        reachable,
        u64::from(c.probe(LENT_PAGE).is_some()),
    )?;
    let mut reclaim = [0u64; 18];
    reclaim[0] = MEM_RECLAIM;
    reclaim[1] = lo;
    reclaim[2] = hi;
    let answer = c.call_on(0, &reclaim);
    expect_eq("w0 of the reclaim", SUCCESS32, answer[0] & 0xffff_ffff)?;
    let after = c.probe(LENT_PAGE);
    expect_eq(
        "the host's load of its page after the reclaim went through (1) or faulted (0)",
        1,
        u64::from(after.is_some()),
    )?;
    expect_eq(
        "what the host loads from its page after the reclaim",
        VALUE,
        after.unwrap_or(0),
    )
}

/// echo donates a page of its own memory to legacy: echo's access goes at once; legacy
/// retrieves it, stores through it and keeps it. A donation retrieved whole is legacy's: the
/// handle is stale (legacy cannot relinquish it, echo cannot reclaim it) and legacy still
/// reads its value while echo's loads keep faulting.
pub fn partition_donates_memory(c: &mut dyn Client) -> Result<(), Failure> {
    const VALUE: u64 = 0x00d0_4a7e;
    negotiate(c, Version(1, 2))?;
    let page = ECHO.load_address + SHARE_OFFSET + 2 * 0x1000;
    let donated = give(c, ECHO_ID, lend::DONATE, 2, LEGACY_ID)?;
    expect_eq(
        "echo's load of the page it donated faulted (1: yes)",
        1,
        u64::from(load(c, ECHO_ID, page)?.is_none()),
    )?;
    let (lo, hi) = (donated & 0xffff_ffff, donated >> 32);
    let words = command32(
        c,
        "RETRIEVE of the donation and store",
        LEGACY_ID,
        Command::Retrieve,
        &[lo, hi, u64::from(ECHO_ID) | RETRIEVE_KEEP, VALUE],
    )?;
    expect_call(
        "legacy's FFA_MEM_RETRIEVE_REQ",
        words[1],
        CallStatus::Success,
    )?;
    expect_eq("the page legacy got", page, words[2])?;
    expect_eq("what legacy read back through the page", VALUE, words[3])?;
    let words = command32(c, "RELINQUISH", LEGACY_ID, Command::Relinquish, &[lo, hi])?;
    expect_call(
        "legacy's relinquish of a donation it has",
        words[1],
        CallStatus::error(FfaError::InvalidParameters),
    )?;
    let words = reclaim(c, ECHO_ID, donated)?;
    expect_eq("w0 of echo's reclaim of its donation", ERROR, words[1])?;
    expect_eq(
        "legacy still reads its page",
        VALUE,
        load(c, LEGACY_ID, page)?.unwrap_or(u64::MAX),
    )?;
    expect_eq(
        "echo's load of the donated page still faults (1: yes)",
        1,
        u64::from(load(c, ECHO_ID, page)?.is_none()),
    )
}
