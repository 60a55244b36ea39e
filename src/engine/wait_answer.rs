//! The daemon's answer to a container wait, read strictly: a container's fate decides
//! hardrun's exit code, so an answer that cannot be read exactly is hardrun's error
//! (125 with the reason), never taken for success.

use crate::sanitize::{LINE_MAX, line};

/// The exit code in a wait answer (`{"StatusCode":N,"Error":null|{"Message":"..."}}`), or
/// why the answer is refused. `StatusCode` must be a JSON integer from 0 to 255, the
/// range of a process's exit status; a non-empty `Error.Message` is the daemon's failure.
pub fn exit_code(body: &[u8]) -> Result<i32, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        let shown = line(&String::from_utf8_lossy(&body[..body.len().min(200)]), 80);
        format!("the daemon's wait answer is not JSON ({e}): {shown}")
    })?;
    let obj = v.as_object().ok_or("the daemon's wait answer is not a JSON object")?;
    match obj.get("Error") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(err)) => match err.get("Message") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(m)) if m.is_empty() => {}
            Some(serde_json::Value::String(m)) => {
                return Err(format!("waiting for the container: {}", line(m, LINE_MAX)));
            }
            Some(_) => return Err("the daemon's wait answer has an Error.Message that is not text".into()),
        },
        Some(_) => return Err("the daemon's wait answer has an Error that is not an object".into()),
    }
    let code = obj.get("StatusCode").ok_or("the daemon's wait answer has no StatusCode")?;
    match code.as_u64() {
        Some(n) if n <= 255 => Ok(n as i32),
        _ => Err(format!(
            "the daemon's wait answer has StatusCode {}, not an exit status (an integer from 0 to 255)",
            line(&code.to_string(), 40)
        )),
    }
}

/// The exit code of an answer that is exact but for the daemon's own failure after the
/// exit (with `--rm`, a removal that failed): the container's fate is known even so.
pub fn code_beside_error(body: &[u8]) -> Option<i32> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = v.get("Error")?.get("Message")?.as_str()?;
    let code = v.get("StatusCode")?.as_u64().filter(|n| *n <= 255)?;
    (!message.is_empty()).then_some(code as i32)
}

#[cfg(test)]
mod tests {
    use super::{code_beside_error, exit_code};

    #[test]
    fn a_failed_removal_still_carries_the_exit_code() {
        let failed = br#"{"StatusCode":3,"Error":{"Message":"unable to remove filesystem"}}"#;
        assert!(exit_code(failed).is_err());
        assert_eq!(code_beside_error(failed), Some(3));
        assert_eq!(code_beside_error(br#"{"StatusCode":3,"Error":null}"#), None);
        assert_eq!(code_beside_error(br#"{"StatusCode":"3","Error":{"Message":"x"}}"#), None);
        assert_eq!(code_beside_error(br#"{"StatusCode":300,"Error":{"Message":"x"}}"#), None);
    }

    #[test]
    fn exact_answers_are_read() {
        assert_eq!(exit_code(br#"{"StatusCode":0,"Error":null}"#), Ok(0));
        assert_eq!(exit_code(b"{\"StatusCode\":137}\n"), Ok(137));
        assert_eq!(exit_code(br#"{"StatusCode":255,"Error":{"Message":""}}"#), Ok(255));
    }

    #[test]
    fn anything_else_is_an_error_never_success() {
        for bad in [
            r#"{"StatusCode":"137"}"#,
            "{}",
            "null",
            "137",
            r#"{"StatusCode":137.9}"#,
            r#"{"StatusCode":4294967296}"#,
            r#"{"StatusCode":-1}"#,
            r#"{"StatusCode":256}"#,
            r#"{"StatusCode":null}"#,
            r#"{"StatusCode":0,"Error":"x"}"#,
            r#"{"StatusCode":0,"Error":{"Message":5}}"#,
            r#"{"StatusCode":0"#,
            "",
            "[0]",
        ] {
            let e = exit_code(bad.as_bytes()).expect_err(bad);
            assert!(!e.contains('\n'), "{e}");
        }
        let e = exit_code(br#"{"StatusCode":0,"Error":{"Message":"boom\n\u001b[2J"}}"#).unwrap_err();
        assert!(e.contains("boom\\n\\x1b[2J"), "{e}");
    }
}
