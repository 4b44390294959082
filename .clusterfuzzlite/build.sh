#!/bin/bash -eu
# ClusterFuzzLite's build step: one libFuzzer fuzzer in $OUT per function the harness fuzzes,
# each the fuzz target `python -m harness fuzz` runs (python -m harness.integrations.libfuzzer FUNC: the
# port against C, C instrumented by clang when there is one). See the README, "harness fuzz".
#
# The fuzzers run the harness as it is installed here: they need python3 with iovconf[fuzz],
# and gcc (the harness preprocesses and builds iov.c on first use, and its UB oracle preloads
# gcc's libasan) wherever they run.
cd "$SRC/iovconf"
pip3 install '.[fuzz]'
for func in $(python3 -m harness.integrations.libfuzzer --list); do
    cat > "$OUT/$func" <<WRAPPER
#!/bin/sh
# LLVMFuzzerTestOneInput: how ClusterFuzzLite tells a fuzzer among the files of \$OUT
exec python3 -m harness.integrations.libfuzzer $func "\$@"
WRAPPER
    chmod +x "$OUT/$func"
done
