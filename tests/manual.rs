//! The manual page and the shell completions: generated from the same clap definitions
//! as `--help`, read back by the real `man` and the real shells.

mod common;

use std::process::Command;

use common::hardrun;

/// Every long flag `--help` lists for `cmd`.
fn long_flags(help: &str) -> Vec<String> {
    help.split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches([',', '.', ')']).split(['=', '[', '<']).next().unwrap().to_string())
        .collect()
}

#[test]
fn the_man_page_documents_every_flag_of_help() {
    for cmd in ["run", "plan", "audit"] {
        let help = hardrun([cmd, "--help"]).run().success().stdout();
        let roff = hardrun(["man", cmd]).run().success().output.stdout;
        // Rendered by man itself, wide enough that nothing is hyphenated.
        let mut man = Command::new("man")
            .args(["-l", "-"])
            .env("MANWIDTH", "3000")
            .env("MANPAGER", "cat")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("man is installed");
        std::io::Write::write_all(&mut man.stdin.take().unwrap(), &roff).unwrap();
        let page = String::from_utf8(man.wait_with_output().unwrap().stdout).unwrap();
        assert!(page.contains(&format!("hardrun-{cmd}")), "{page}");
        let flags = long_flags(&help);
        assert!(flags.len() > 3, "{flags:?}");
        for f in flags {
            assert!(page.contains(&f), "hardrun-{cmd}(1) lacks {f}");
        }
    }
    hardrun(["man", "nosuch"]).run().status(125).stderr_has("no command \"nosuch\"");
}

#[test]
fn man_install_writes_a_page_per_command() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    hardrun(["man", "--install", "--dir", dir]).run().success();
    for page in ["hardrun", "hardrun-run", "hardrun-doctor", "hardrun-install-plugin"] {
        let o = Command::new("man").args(["-M", dir, page]).env("MANPAGER", "cat").output().unwrap();
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("NAME"), "{page}");
    }
}

#[test]
fn bash_completes_commands_and_flags_once_installed() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    hardrun(["completions", "bash", "--install"]).env("HOME", h).env("XDG_DATA_HOME", "").run().success();
    let file = home.path().join(".local/share/bash-completion/completions/hardrun");
    let script = format!(
        "source {}; COMP_WORDS=(hardrun ru); COMP_CWORD=1; _hardrun hardrun ru hardrun; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(hardrun run --cap-d); COMP_CWORD=2; _hardrun hardrun --cap-d run; echo \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "run\n--cap-drop\n", "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn zsh_and_fish_load_them_from_where_they_are_installed() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_str().unwrap();
    let install = |shell: &str| {
        hardrun(["completions", shell, "--install"])
            .env("HOME", h)
            .env("XDG_DATA_HOME", "")
            .env("XDG_CONFIG_HOME", "")
            .run()
            .success()
    };
    install("fish");
    // fish loads ~/.config/fish/completions by itself, for a command on PATH.
    let path = format!("{}:{}", common::bin().parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let o = Command::new("fish")
        .args(["-c", "complete -C 'hardrun ru'"])
        .env("HOME", h)
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("PATH", path)
        .output()
        .expect("fish is installed");
    assert!(String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with("run\t")), "{o:?}");
    install("zsh").stderr_has("fpath");
    let file = home.path().join(".local/share/zsh/site-functions/_hardrun");
    let o = Command::new("zsh").args(["-n", file.to_str().unwrap()]).output().expect("zsh is installed");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("zsh")
        .args([
            "-fc",
            &format!(
                "fpath=({} $fpath); autoload -Uz compinit; compinit -u; print -r -- ${{_comps[hardrun]}}",
                file.parent().unwrap().display()
            ),
        ])
        .env("HOME", h)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "_hardrun", "{}", String::from_utf8_lossy(&o.stderr));
    hardrun(["completions", "elvish", "--install"]).run().status(125).stderr_has("bash, zsh and fish");
}
