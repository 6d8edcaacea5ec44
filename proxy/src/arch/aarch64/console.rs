//! UART0 output: whole `[proxy] ` lines under one lock, so cores never interleave mid-line.
//! Usable only once the proxy's stage-1 is on (the lock needs cacheable memory).

use core::fmt::{self, Write};
use core::ptr::NonNull;

use arm_pl011_uart::{PL011Registers, Uart};
use safe_mmio::UniqueMmioPointer;
use spin::Mutex;

use super::layout;

static CONSOLE: Mutex<Option<Uart<'static>>> = Mutex::new(None);

/// Takes UART0 (TF-A has already configured it; the proxy only writes).
pub fn init() {
    let regs = NonNull::new(layout::UART0.0 as *mut PL011Registers).expect("UART0 is not at 0");
    // SAFETY: UART0 is mapped as Device memory in the proxy's stage-1 and this is the proxy's
    // only pointer to it. The host writes the same device through its stage-2 (the console
    // all of the normal world shares); PL011 data writes from both sides are independent.
    let uart = Uart::new(unsafe { UniqueMmioPointer::new(regs) });
    *CONSOLE.lock() = Some(uart);
}

fn write_line(uart: &mut Uart<'_>, args: fmt::Arguments) {
    // Console output is best effort: a write error has nowhere to go.
    let _ = uart.write_str("[proxy] ");
    let _ = uart.write_fmt(args);
    let _ = uart.write_str("\n");
}

/// Prints one `[proxy] ` line.
pub fn print_line(args: fmt::Arguments) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        write_line(uart, args);
    }
}

/// Prints one line as it is, without the prefix (lines xtask parses).
pub fn print_bare_line(args: fmt::Arguments) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        // Best effort, as in `write_line`.
        let _ = uart.write_fmt(args);
        let _ = uart.write_str("\n");
    }
}

/// Prints one line without waiting for the lock (a core that panicked while printing holds
/// it); the line is lost if the console is busy.
pub fn print_line_now(args: fmt::Arguments) {
    if let Some(mut console) = CONSOLE.try_lock()
        && let Some(uart) = console.as_mut()
    {
        write_line(uart, args);
    }
}

/// `println!` for the proxy: one `[proxy] ` line on UART0.
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::arch::aarch64::console::print_line(format_args!($($arg)*))
    };
}
pub(crate) use println;
