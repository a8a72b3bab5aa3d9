package executor

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// bpfAnnotation hands crun a filter already compiled to BPF, so it does not compile
// Docker's ~400-rule profile again for every step (~20 ms each time).
const bpfAnnotation = "run.oci.seccomp_bpf_data"

// defaultSeccomp is Docker's default seccomp profile for a step with Docker's default
// capabilities, the filter every RUN step and docker run get.
func defaultSeccomp() (*specs.LinuxSeccomp, error) {
	caps := append([]string(nil), defaultCaps...)
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps,
	}}}
	p, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return nil, fmt.Errorf("building the default seccomp profile: %w", err)
	}
	return p, nil
}

// compileBPF compiles a profile to the raw filter the seccomp(2) syscall loads, base64
// encoded for crun's annotation. Syscalls libseccomp does not know on this machine are
// skipped, as runc and crun skip them.
func compileBPF(p *specs.LinuxSeccomp) (string, error) {
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return "", err
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return "", fmt.Errorf("creating seccomp filter: %w", err)
	}
	defer f.Release()
	for _, a := range p.Architectures {
		arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if err != nil {
			return "", fmt.Errorf("seccomp architecture %s: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return "", fmt.Errorf("seccomp architecture %s: %w", a, err)
		}
	}
	for _, sc := range p.Syscalls {
		if err := addRules(f, sc); err != nil {
			return "", err
		}
	}
	return exportBPF(f)
}

// addRules adds one profile entry: its conditions are ANDed in one rule, unless two of them
// test the same argument, which libseccomp takes only as separate (ORed) rules.
func addRules(f *libseccomp.ScmpFilter, sc specs.LinuxSyscall) error {
	act, err := action(sc.Action, sc.ErrnoRet)
	if err != nil {
		return err
	}
	var conds []libseccomp.ScmpCondition
	sameArg := map[uint]bool{}
	split := false
	for _, a := range sc.Args {
		op, ok := compareOps[a.Op]
		if !ok {
			return fmt.Errorf("seccomp: unknown comparison %q", a.Op)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return fmt.Errorf("seccomp condition on %v: %w", sc.Names, err)
		}
		split = split || sameArg[a.Index]
		sameArg[a.Index] = true
		conds = append(conds, c)
	}
	for _, name := range sc.Names {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			continue // not a syscall of this architecture or libseccomp version
		}
		switch {
		case len(conds) == 0:
			err = f.AddRule(call, act)
		case split:
			for _, c := range conds {
				if err = f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
					break
				}
			}
		default:
			err = f.AddRuleConditional(call, act, conds)
		}
		if err != nil {
			return fmt.Errorf("seccomp rule for %s: %w", name, err)
		}
	}
	return nil
}

var compareOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual: libseccomp.CompareNotEqual, specs.OpLessThan: libseccomp.CompareLess,
	specs.OpLessEqual: libseccomp.CompareLessOrEqual, specs.OpEqualTo: libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual, specs.OpGreaterThan: libseccomp.CompareGreater,
	specs.OpMaskedEqual: libseccomp.CompareMaskedEqual,
}

func action(a specs.LinuxSeccompAction, errno *uint) (libseccomp.ScmpAction, error) {
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		code := int16(unix.EPERM)
		if errno != nil {
			code = int16(*errno)
		}
		return libseccomp.ActErrno.SetReturnCode(code), nil
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("seccomp: unsupported action %q", a)
}

// exportBPF writes the compiled filter through a memfd (libseccomp exports to a
// descriptor) and returns it base64 encoded.
func exportBPF(f *libseccomp.ScmpFilter) (string, error) {
	fd, err := unix.MemfdCreate("hush-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("exporting seccomp filter: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "hush-seccomp")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return "", fmt.Errorf("exporting seccomp filter: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("exporting seccomp filter: %w", err)
	}
	raw, err := io.ReadAll(mf)
	if err != nil {
		return "", fmt.Errorf("exporting seccomp filter: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}
