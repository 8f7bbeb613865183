//! Helpers shared by the kernel tests.

use burn::tensor::Device;

/// Both CPU backends, as the trainer's autodiff devices, each seeded.
pub fn devices() -> Vec<(&'static str, Device)> {
    #[allow(deprecated)] // burn 0.22 deprecates ndarray; bimt keeps it selectable
    let ndarray = Device::ndarray();
    vec![
        ("flex", Device::flex().autodiff()),
        ("ndarray", ndarray.autodiff()),
    ]
    .into_iter()
    .inspect(|(_, device)| device.seed(7))
    .collect()
}
