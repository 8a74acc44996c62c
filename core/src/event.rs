//! The event vocabulary shared by the simulator and the live runtime (`--events FILE`, JSON
//! lines). Reports consume only these.
