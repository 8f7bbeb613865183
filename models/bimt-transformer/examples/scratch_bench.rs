use bimt_engine::{Int, Tensor, TensorData, default_device};
use burn::tensor::activation::softmax;
use std::time::Instant;

fn t<const D: usize>(shape: [usize; D], phase: f32) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37 + phase).sin()).collect();
    Tensor::<D>::from_data(TensorData::new(v, shape), &default_device()).autodiff().require_grad()
}

fn time(name: &str, f: &dyn Fn()) {
    for _ in 0..200 { f(); }
    let n = if std::env::args().nth(1).is_some() { 20000 } else { 2000 };
    let s = Instant::now();
    for _ in 0..n { f(); }
    println!("{name}: {:.1} µs", s.elapsed().as_secs_f64() * 1e6 / n as f64);
}


fn main() {
    let (b, tt, w) = (64usize, 3usize, 32usize);
    let n = b * tt;
    let dev = default_device();
    let hin = t([n, w], 0.0);
    let wq = t([w, 3 * w], 1.0).mul_scalar(0.2).inner().autodiff().require_grad();
    let bq = t([1, 3 * w], 2.0);
    let mask_vals: Vec<f32> = (0..tt * tt).map(|i| if i % tt > i / tt { f32::NEG_INFINITY } else { 0.0 }).collect();
    let mask3 = Tensor::<3>::from_data(TensorData::new(mask_vals.clone(), [1, tt, tt]), &dev);
    let mask4 = Tensor::<4>::from_data(TensorData::new(mask_vals.clone(), [1, 1, tt, tt]), &dev);
    let it: Vec<i64> = (0..tt * tt).map(|i| (i / tt) as i64).collect();
    let is: Vec<i64> = (0..tt * tt).map(|i| (i % tt) as i64).collect();
    let it = Tensor::<1, Int>::from_data(TensorData::new(it, [tt * tt]), &dev);
    let is = Tensor::<1, Int>::from_data(TensorData::new(is, [tt * tt]), &dev);
    let scale = 1.0 / (w as f64).sqrt();
    let check = |o: Tensor<2>| o;
    time("A batched matmul", &|| {
        let x = (hin.clone().matmul(wq.clone()) + bq.clone()).reshape([b, tt, 3, w]).swap_dims(1, 2);
        let q = x.clone().narrow(1, 0, 1);
        let k = x.clone().narrow(1, 1, 1);
        let v = x.narrow(1, 2, 1);
        let s = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + mask4.clone();
        let o = softmax(s, 3).matmul(v).swap_dims(1, 2).reshape([n, w]);
        check(o).sum().backward();
    });
    for g in [1usize, 4, 8, 16, 32] {
        let gt = g * tt;
        let mv: Vec<f32> = (0..gt * gt).map(|i| { let (r, c) = (i / gt, i % gt); if r / tt == c / tt && c <= r { 0.0 } else { f32::NEG_INFINITY } }).collect();
        let maskg = Tensor::<4>::from_data(TensorData::new(mv, [1, 1, gt, gt]), &dev);
        let maskg3 = maskg.clone().reshape([1, gt, gt]);
        time(&format!("F packed G={g}"), &|| {
            let x = (hin.clone().matmul(wq.clone()) + bq.clone()).reshape([b / g, gt, 3, w]).swap_dims(1, 2);
            let q = x.clone().narrow(1, 0, 1);
            let k = x.clone().narrow(1, 1, 1);
            let v = x.narrow(1, 2, 1);
            let s = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + maskg.clone();
            let o = softmax(s, 3).matmul(v).swap_dims(1, 2).reshape([n, w]);
            check(o).sum().backward();
        });
        time(&format!("F3 packed 3d (1 head) G={g}"), &|| {
            let x = (hin.clone().matmul(wq.clone()) + bq.clone()).reshape([b / g, gt, 3 * w]);
            let q = x.clone().narrow(2, 0, w);
            let k = x.clone().narrow(2, w, w);
            let v = x.narrow(2, 2 * w, w);
            let s = q.matmul(k.swap_dims(1, 2)).mul_scalar(scale) + maskg3.clone();
            let o = softmax(s, 2).matmul(v).reshape([n, w]);
            check(o).sum().backward();
        });
        time(&format!("G split weights G={g}"), &|| {
            let lin = |j: usize| (hin.clone().matmul(wq.clone().narrow(1, j * w, w)) + bq.clone().narrow(1, j * w, w)).reshape([b / g, gt, 1, w]).swap_dims(1, 2);
            let s = lin(0).matmul(lin(1).swap_dims(2, 3)).mul_scalar(scale) + maskg.clone();
            let o = softmax(s, 3).matmul(lin(2)).swap_dims(1, 2).reshape([n, w]);
            check(o).sum().backward();
        });
    }
    if std::env::args().nth(1).is_some() { return; }
    time("C1 select then narrow", &|| {
        let x = (hin.clone().matmul(wq.clone()) + bq.clone()).reshape([b, tt, 3 * w]);
        let xt = x.clone().select(1, it.clone());
        let xs = x.select(1, is.clone());
        let q = xt.narrow(2, 0, w);
        let k = xs.clone().narrow(2, w, w);
        let v = xs.narrow(2, 2 * w, w);
        let s = (q * k).sum_dim(2).reshape([b, tt, tt]).mul_scalar(scale) + mask3.clone();
        let a = softmax(s, 2).reshape([b, tt * tt, 1]);
        let o = (a * v).reshape([b, tt, tt, w]).sum_dim(2).reshape([n, w]);
        check(o).sum().backward();
    });
    time("C2 narrow then select", &|| {
        let x = (hin.clone().matmul(wq.clone()) + bq.clone()).reshape([b, tt, 3 * w]);
        let q = x.clone().narrow(2, 0, w).select(1, it.clone());
        let k = x.clone().narrow(2, w, w).select(1, is.clone());
        let v = x.narrow(2, 2 * w, w).select(1, is.clone());
        let s = (q * k).sum_dim(2).reshape([b, tt, tt]).mul_scalar(scale) + mask3.clone();
        let a = softmax(s, 2).reshape([b, tt * tt, 1]);
        let o = (a * v).reshape([b, tt, tt, w]).sum_dim(2).reshape([n, w]);
        check(o).sum().backward();
    });
    time("E split weights", &|| {
        let lin = |j: usize| (hin.clone().matmul(wq.clone().narrow(1, j * w, w)) + bq.clone().narrow(1, j * w, w)).reshape([b, tt, w]);
        let q = lin(0).select(1, it.clone());
        let k = lin(1).select(1, is.clone());
        let v = lin(2).select(1, is.clone());
        let s = (q * k).sum_dim(2).reshape([b, tt, tt]).mul_scalar(scale) + mask3.clone();
        let a = softmax(s, 2).reshape([b, tt * tt, 1]);
        let o = (a * v).reshape([b, tt, tt, w]).sum_dim(2).reshape([n, w]);
        check(o).sum().backward();
    });
    time("linear only", &|| {
        (hin.clone().matmul(wq.clone()) + bq.clone()).sum().backward();
    });
}
