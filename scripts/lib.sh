# Shared shell helpers for scripts/test and the suites in scripts/suites/ (source it).
#
#   need_apt PKG...            apt-get install the Debian packages that are not installed yet
#   need_pip IMPORT=PKG...     pip install PKG when `import IMPORT` fails (IMPORT=PKG, or PKG alone)
#   free_port                  prints a free TCP port on 127.0.0.1
#   on_exit CMD                runs CMD when the script exits, whatever happens (last added first)

need_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Suites run two at a time: one apt at a time (apt-get fails on a held lock instead of waiting).
  (
    flock 9
    if [ ! -f /tmp/.se-apt-updated ]; then apt-get update -qq && touch /tmp/.se-apt-updated; fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ) 9>/tmp/.se-apt.lock
}

need_pip() {
  local missing=() spec mod pkg
  for spec in "$@"; do
    mod=${spec%%=*}; pkg=${spec#*=}
    "${PYTHON:-python3}" -c "import $mod" 2>/dev/null || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "pip install ${missing[*]}" >&2
  "${PYTHON:-python3}" -m pip install -q --disable-pip-version-check "${missing[@]}"
}

free_port() {
  "${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_se_exit_cmds=()
_se_run_exit() {
  local i
  for ((i = ${#_se_exit_cmds[@]} - 1; i >= 0; i--)); do eval "${_se_exit_cmds[$i]}" || true; done
}
on_exit() {
  _se_exit_cmds+=("$*")
  trap _se_run_exit EXIT
  trap 'exit 130' INT TERM
}
