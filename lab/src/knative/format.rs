//! Knative's and Kubernetes' spellings of values: numbers without trailing zeros, Go durations,
//! CPU and memory quantities.

use std::time::Duration;

use crate::LabError;

/// A number as Knative writes it: no trailing zeros, at most 10 decimals.
pub fn num(x: f64) -> String {
    let s = format!("{x:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// A Go duration string: whole seconds as `"60s"`, else milliseconds or nanoseconds.
pub fn go_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ns", d.as_nanos())
    }
}

/// vCPU as a Kubernetes quantity: `"1"`, `"500m"`.
pub fn cpu_quantity(vcpu: f64) -> String {
    if vcpu.fract() == 0.0 {
        format!("{}", vcpu as u64)
    } else {
        format!("{}m", (vcpu * 1000.0).round() as u64)
    }
}

/// GiB as a Kubernetes quantity: `"512Mi"`, `"2Gi"`.
pub fn memory_quantity(gib: f64) -> String {
    if gib.fract() == 0.0 {
        format!("{}Gi", gib as u64)
    } else {
        let mib = gib * 1024.0;
        if mib.fract().abs() < 1e-9 {
            format!("{}Mi", mib.round() as u64)
        } else {
            format!("{}Ki", (gib * 1024.0 * 1024.0).round() as u64)
        }
    }
}

/// A Go duration (`"60s"`, `"1m30s"`, `"0"`).
pub fn parse_go_duration(s: &str) -> Result<Duration, LabError> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    scalelab_core::duration::parse_duration(s).map_err(|e| LabError::InvalidValue(e.to_string()))
}

/// A finite number.
pub fn number(s: &str) -> Result<f64, LabError> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| LabError::InvalidValue(format!("\"{s}\" is not a number")))
}

/// A Kubernetes CPU quantity (`"1"`, `"500m"`, `"1.5"`) in vCPU.
pub fn parse_cpu(s: &str) -> Result<f64, LabError> {
    let s = s.trim();
    let x = match s.strip_suffix('m') {
        Some(m) => number(m)? / 1000.0,
        None => number(s)?,
    };
    if x > 0.0 {
        Ok(x)
    } else {
        Err(LabError::InvalidValue(format!(
            "cpu \"{s}\" must be positive"
        )))
    }
}

/// A Kubernetes memory quantity (`"512Mi"`, `"1Gi"`, `"1G"`, bytes) in GiB.
pub fn parse_memory(s: &str) -> Result<f64, LabError> {
    let s = s.trim();
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let units: [(&str, f64); 10] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", GIB),
        ("Ti", GIB * 1024.0),
        ("Pi", GIB * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    let (digits, scale) = units
        .iter()
        .find_map(|(u, f)| s.strip_suffix(u).map(|d| (d, *f)))
        .unwrap_or((s, 1.0));
    let bytes = number(digits).map_err(|_| {
        LabError::InvalidValue(format!("memory \"{s}\" is not a quantity like 512Mi"))
    })? * scale;
    if bytes > 0.0 {
        Ok(bytes / GIB)
    } else {
        Err(LabError::InvalidValue(format!(
            "memory \"{s}\" must be positive"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_knative() {
        assert_eq!(num(0.7 * 100.0), "70");
        assert_eq!(num(0.55 * 100.0), "55");
        assert_eq!(num(72.5), "72.5");
        assert_eq!(num(-1.0), "-1");
        assert_eq!(go_duration(Duration::from_secs(60)), "60s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "3600s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(cpu_quantity(1.0), "1");
        assert_eq!(cpu_quantity(0.25), "250m");
        assert_eq!(memory_quantity(0.5), "512Mi");
        assert_eq!(memory_quantity(2.0), "2Gi");
    }

    #[test]
    fn quantities_parse() {
        assert_eq!(parse_cpu("500m").unwrap(), 0.5);
        assert_eq!(parse_cpu("2").unwrap(), 2.0);
        assert_eq!(parse_memory("512Mi").unwrap(), 0.5);
        assert_eq!(parse_memory("2Gi").unwrap(), 2.0);
        assert!((parse_memory("1G").unwrap() - 0.931_322_574_6).abs() < 1e-9);
        assert!(parse_memory("lots").is_err());
        assert!(parse_cpu("-1").is_err());
    }

    #[test]
    fn go_durations_read_back() {
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_go_duration("soon").is_err());
    }
}
