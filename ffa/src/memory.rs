//! Memory transaction descriptors in the v1.0, v1.1 and v1.2 layouts.
