//! The ranges the proxy's physical copies may touch.

use proxy::ProxyConfig;
use proxy::memory_windows::MemoryWindows;

const CONFIG: ProxyConfig = ProxyConfig {
    tx: 0x6100_0000,
    rx: 0x6100_1000,
    pages: 1,
    host_ram: (0x4000_0000, 0x6000_0000),
};

#[test]
fn host_ram_and_both_buffers_and_nothing_else() {
    let w = MemoryWindows::new(&CONFIG);
    assert!(w.allows(0x4000_0000, 0x1000));
    assert!(w.allows(0x5fff_f000, 0x1000), "last page of host RAM");
    assert!(w.allows(0x4800_0000, 0), "an empty copy inside");
    assert!(w.allows(0x6100_0000, 0x1000), "TX");
    assert!(w.allows(0x6100_1000, 0x1000), "RX");
    assert!(!w.allows(0x3fff_ffff, 2), "starts below host RAM");
    assert!(!w.allows(0x5fff_f001, 0x1000), "runs past host RAM");
    assert!(!w.allows(0x6000_0000, 1), "the proxy's image");
    assert!(!w.allows(0x0900_0000, 4), "UART0");
    assert!(!w.allows(0x6100_0800, 0x1000), "spans TX and RX");
    assert!(!w.allows(0x6100_2000, 1), "past RX");
    assert!(!w.allows(u64::MAX, 2), "address overflow");
    assert!(!w.allows(0x4000_0000, u64::MAX), "length overflow");
}

#[test]
fn a_buffer_size_that_overflows_admits_nothing() {
    let config = ProxyConfig {
        tx: u64::MAX - 0xfff,
        rx: 0x6100_1000,
        pages: u32::MAX,
        host_ram: (0x4000_0000, 0x6000_0000),
    };
    let w = MemoryWindows::new(&config);
    assert!(!w.allows(u64::MAX - 0xfff, 1));
    assert!(w.allows(0x4000_0000, 1));
}
