# Sourced by the check scripts: `check NAME STATUS DETAIL` counts a check passed (STATUS 0)
# or failed and prints it; the script ends with `echo "$passed passed, $failed failed"`.
passed=0
failed=0
check() { # name, condition (0 = pass), detail
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1)); echo "ok   $1: $3"
    else
        failed=$((failed + 1)); echo "FAIL $1: $3"
    fi
}
