//! Builds manifest DTBs in memory with dtoolkit's writer (no dtc needed).

use dtoolkit::ToPropertyValue;
use dtoolkit::model::{DeviceTree, DeviceTreeNode, DeviceTreeProperty};

/// A property value, as the tests spell it.
pub enum Value<'a> {
    /// One 32-bit cell.
    Cell(u32),
    /// Two cells (a 64-bit number).
    Cells2(u64),
    /// Any number of cells.
    Cells(&'a [u32]),
    /// A NUL-terminated string.
    Str(&'a str),
    /// Raw bytes (an empty slice is a flag).
    Bytes(&'a [u8]),
}

pub use Value::{Bytes, Cell, Cells, Cells2, Str};

/// A flag property's value.
pub const FLAG: Value<'static> = Bytes(&[]);

fn property(name: &str, value: &Value<'_>) -> DeviceTreeProperty {
    fn make<T: ToPropertyValue>(name: &str, value: T) -> DeviceTreeProperty {
        DeviceTreeProperty::new(name, value).expect("valid property name")
    }
    match value {
        Cell(v) => make(name, *v),
        Cells2(v) => make(name, *v),
        Cells(v) => make(name, *v),
        Str(v) => make(name, *v),
        Bytes(v) => make(name, *v),
    }
}

/// A node under construction.
#[derive(Clone)]
pub struct NodeBuilder(pub DeviceTreeNode);

impl NodeBuilder {
    pub fn new(name: &str) -> Self {
        Self(DeviceTreeNode::new(name).expect("valid node name"))
    }

    /// Sets (or replaces) a property.
    pub fn set(mut self, name: &str, value: Value<'_>) -> Self {
        self.0.add_property(property(name, &value));
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.0.remove_property(name);
        self
    }

    pub fn child(mut self, child: NodeBuilder) -> Self {
        self.0.add_child(child.0);
        self
    }
}

/// A whole tree under construction: the root's properties and children.
#[derive(Clone)]
pub struct TreeBuilder(pub DeviceTree);

impl TreeBuilder {
    pub fn new() -> Self {
        Self(DeviceTree::new())
    }

    pub fn set(mut self, name: &str, value: Value<'_>) -> Self {
        self.0.root.add_property(property(name, &value));
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.0.root.remove_property(name);
        self
    }

    pub fn child(mut self, child: NodeBuilder) -> Self {
        self.0.root.add_child(child.0);
        self
    }

    /// Changes a child node in place (by path from the root, e.g. "hypervisor/vm1").
    pub fn edit(mut self, path: &str, f: impl FnOnce(NodeBuilder) -> NodeBuilder) -> Self {
        let node = self
            .0
            .find_node_mut(&format!("/{path}"))
            .expect("node to edit exists");
        let edited = f(NodeBuilder(node.clone()));
        *node = edited.0;
        self
    }

    pub fn without_child(mut self, name: &str) -> Self {
        self.0.root.remove_child(name);
        self
    }

    pub fn dtb(&self) -> Vec<u8> {
        self.0.to_dtb()
    }
}

/// `<0x168a2c5e 0x574a3b3f 0x1e7b0d9c 0x5d4c3a2f>`, documented as
/// 5e2c8a16-3f3b-4a57-9c0d-7b1e2f3a4c5d.
pub const DOC_UUID_CELLS: [u32; 4] = [0x168a2c5e, 0x574a3b3f, 0x1e7b0d9c, 0x5d4c3a2f];
pub const DOC_UUID: &str = "5e2c8a16-3f3b-4a57-9c0d-7b1e2f3a4c5d";

/// A complete, valid partition manifest: every property the parser reads, a memory region
/// and a device region.
pub fn full_partition() -> TreeBuilder {
    TreeBuilder::new()
        .set("compatible", Str("arm,ffa-manifest-1.0"))
        .set("description", Str("full"))
        .set("ffa-version", Cell(0x0001_0002))
        .set("uuid", Cells(&DOC_UUID_CELLS))
        .set("id", Cell(0x8005))
        .set("execution-ctx-count", Cell(4))
        .set("exception-level", Cell(2))
        .set("execution-state", Cell(0))
        .set("load-address", Cell(0x0e30_0000))
        .set("entrypoint-offset", Cell(0x4000))
        .set("xlat-granule", Cell(0))
        .set("boot-order", Cell(3))
        .set("messaging-method", Cell(0x603))
        .set("gp-register-num", Cell(1))
        .child(
            NodeBuilder::new("memory-regions")
                .set("compatible", Str("arm,ffa-manifest-memory-regions"))
                .child(
                    NodeBuilder::new("rx-tx")
                        .set("description", Str("rxtx"))
                        .set("pages-count", Cell(2))
                        .set("attributes", Cell(0x3))
                        .set("base-address", Cells2(0x0e36_0000)),
                ),
        )
        .child(
            NodeBuilder::new("device-regions")
                .set("compatible", Str("arm,ffa-manifest-device-regions"))
                .child(
                    NodeBuilder::new("uart1")
                        .set("description", Str("secure-uart"))
                        .set("base-address", Cells2(0x0904_0000))
                        .set("pages-count", Cell(1))
                        .set("attributes", Cell(0x3)),
                ),
        )
}

/// The smallest valid partition manifest: the mandatory properties only.
pub fn minimal_partition() -> TreeBuilder {
    TreeBuilder::new()
        .set("compatible", Str("arm,ffa-manifest-1.0"))
        .set("ffa-version", Cell(0x0001_0002))
        .set("uuid", Cells(&DOC_UUID_CELLS))
        .set("execution-ctx-count", Cell(1))
        .set("exception-level", Cell(2))
        .set("messaging-method", Cell(0x3))
}

pub fn vm(index: u16, name: &str, load_address: u64, vcpus: u32, mem_size: u64) -> NodeBuilder {
    vm_named(&format!("vm{index}"), name, load_address, vcpus, mem_size)
}

pub fn vm_named(
    node: &str,
    name: &str,
    load_address: u64,
    vcpus: u32,
    mem_size: u64,
) -> NodeBuilder {
    NodeBuilder::new(node)
        .set("is_ffa_partition", FLAG)
        .set("debug_name", Str(name))
        .set("load_address", Cell(load_address as u32))
        .set("vcpu_count", Cell(vcpus))
        .set("mem_size", Cell(mem_size as u32))
}

/// A memory node of the SPMC manifest: `device_type` and `reg` cells.
pub fn memory_node(name: &str, device_type: &str, reg: &[u32]) -> NodeBuilder {
    NodeBuilder::new(name)
        .set("device_type", Str(device_type))
        .set("reg", Cells(reg))
}

/// A `cpu@N` node whose `reg` holds `mpidrs` (two cells each).
pub fn cpu_node(name: &str, mpidrs: &[u64]) -> NodeBuilder {
    let cells: Vec<u32> = mpidrs
        .iter()
        .flat_map(|m| [(m >> 32) as u32, *m as u32])
        .collect();
    NodeBuilder::new(name)
        .set("device_type", Str("cpu"))
        .set("reg", Cells(&cells))
}

/// A `/cpus` node listing `mpidrs`, one `cpu@N` child each.
pub fn cpus_node(mpidrs: &[u64]) -> NodeBuilder {
    let mut cpus = NodeBuilder::new("cpus")
        .set("#address-cells", Cell(2))
        .set("#size-cells", Cell(0));
    for mpidr in mpidrs {
        cpus = cpus.child(cpu_node(&format!("cpu@{mpidr:x}"), &[*mpidr]));
    }
    cpus
}

/// A valid SPMC manifest with two partitions, secure memory from 0x0e10_0000 (16 MiB less
/// one), 1 GiB of NS memory at 0x4000_0000, and two cores.
pub fn spmc_manifest() -> TreeBuilder {
    TreeBuilder::new()
        .set("compatible", Str("arm,ffa-core-manifest-1.0"))
        .set("#address-cells", Cell(2))
        .set("#size-cells", Cell(1))
        .child(
            NodeBuilder::new("attribute")
                .set("spmc_id", Cell(0x8000))
                .set("maj_ver", Cell(1))
                .set("min_ver", Cell(2))
                .set("exec_state", Cell(0))
                .set("load_address", Cells2(0x0e10_0000))
                .set("entrypoint", Cells2(0x0e10_0000))
                .set("binary_size", Cell(0x20_0000)),
        )
        .child(
            NodeBuilder::new("hypervisor")
                .set("compatible", Str("hafnium,hafnium"))
                .child(vm(1, "first", 0x0e30_0000, 1, 0x10_0000))
                .child(vm(2, "second", 0x0e40_0000, 4, 0x10_0000)),
        )
        .child(cpus_node(&[0, 1]))
        .child(memory_node(
            "memory@e100000",
            "memory",
            &[0, 0x0e10_0000, 0xf0_0000],
        ))
        .child(memory_node(
            "memory@40000000",
            "ns-memory",
            &[0, 0x4000_0000, 0x4000_0000],
        ))
}
