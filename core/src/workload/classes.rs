//! Request classes (`[[workload.request_classes]]`): which class, and so which headers, each
//! request carries. The simulator draws the n-th arrival's class from its own named stream
//! ([`CLASS_STREAM`]), so adding classes shifts no other draw. The load generator (`run`,
//! `compare`, `load`) sends the classes by the same weights (each request kind crossed with each
//! class), from its own request-kind draw: the same mix, not the same sequence.

use rand::RngExt;

use crate::rng::SimRng;

/// The name of the random stream request classes are drawn from.
pub const CLASS_STREAM: &str = "workload/request-classes";

/// Draws a class by weight: one uniform draw per request (none when there is one class).
#[derive(Clone, Debug, Default)]
pub struct ClassPicker {
    cumulative: Vec<f64>,
}

impl ClassPicker {
    /// A picker over these weights (each > 0), in the classes' order.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> ClassPicker {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        ClassPicker { cumulative }
    }

    /// How many classes there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The next request's class.
    #[inline]
    pub fn pick(&self, rng: &mut SimRng) -> usize {
        if self.cumulative.len() <= 1 {
            return 0;
        }
        let total = *self.cumulative.last().expect("non-empty");
        crate::rng::bucket_of(&self.cumulative, rng.random::<f64>() * total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn classes_follow_their_weights() {
        let p = ClassPicker::new([1.0, 3.0]);
        let mut rng = stream(5, CLASS_STREAM);
        let n = 40_000;
        let second = (0..n).filter(|_| p.pick(&mut rng) == 1).count() as f64 / n as f64;
        assert!((second - 0.75).abs() < 0.01, "{second}");
        // One class draws nothing.
        let one = ClassPicker::new([2.0]);
        let mut a = stream(5, CLASS_STREAM);
        let b = a.clone();
        assert_eq!(one.pick(&mut a), 0);
        assert_eq!(a, b);
    }
}
