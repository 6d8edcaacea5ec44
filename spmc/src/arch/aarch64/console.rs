//! The secure console: UART1 (secure-only PL011). Whole lines are written under one lock, so
//! lines from different cores never interleave.

use core::fmt::{self, Write};
use core::ptr::NonNull;

use arm_pl011_uart::{DataBits, LineConfig, PL011Registers, Parity, StopBits, Uart};
use safe_mmio::UniqueMmioPointer;
use spin::mutex::TicketMutex;

/// The secure PL011 (QEMU virt UART1).
pub const UART_BASE: u64 = crate::memory_map::qemu_virt::UART.start();
/// Its reference clock on QEMU virt.
const UART_CLOCK: u32 = 24_000_000;

static CONSOLE: TicketMutex<Option<Uart<'static>>> = TicketMutex::new(None);

/// Enables the UART. Call once, after the stage-1 map (which maps it as device memory) is on.
pub fn init() {
    // SAFETY: UART_BASE is the secure PL011's register block, mapped as device memory by the
    // stage-1 map; this is the only pointer made to it (init runs once, on the boot core).
    let regs =
        unsafe { UniqueMmioPointer::new(NonNull::new_unchecked(UART_BASE as *mut PL011Registers)) };
    let mut uart = Uart::new(regs);
    let config = LineConfig {
        data_bits: DataBits::Bits8,
        parity: Parity::None,
        stop_bits: StopBits::One,
    };
    // QEMU ignores the rate; an error only means the divisor is out of range.
    let _ = uart.enable(config, 115_200, UART_CLOCK);
    *CONSOLE.lock() = Some(uart);
}

/// Writes one line (a newline is added).
pub fn line(args: fmt::Arguments) {
    let mut console = CONSOLE.lock();
    if let Some(uart) = console.as_mut() {
        let _ = uart.write_fmt(args);
        let _ = uart.write_str("\r\n");
    }
}

/// Writes a line even while another core holds the console (for a core that is about to
/// park after a fault of the SPMC itself): it waits a bounded time for the lock, then writes
/// anyway.
pub fn line_forced(args: fmt::Arguments) {
    for _ in 0..1_000_000 {
        if let Some(mut console) = CONSOLE.try_lock() {
            if let Some(uart) = console.as_mut() {
                let _ = uart.write_fmt(args);
                let _ = uart.write_str("\r\n");
            }
            return;
        }
        core::hint::spin_loop();
    }
    // SAFETY: this core parks right after; the lock holder may see interleaved output, which
    // is better than no report of the fault.
    unsafe { CONSOLE.force_unlock() };
    line(args);
}

/// Prints a line on the secure console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::arch::aarch64::console::line(format_args!($($arg)*))
    };
}
