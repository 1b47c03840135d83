package windows

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ScriptName is the install script's file name in a server's bundle.
const ScriptName = "Install-EdgecertCertificates.ps1"

// Files the script reads and writes next to itself.
const (
	PasswordFileName = "transfer-password.txt"
	ResultFileName   = "install-result.json"
	PreviousFileName = "previous-assignments.json"
)

var utf8BOM = "\ufeff"

// InstallScript renders the install script of in: Windows PowerShell 4.0
// and 5.1 syntax, UTF-8 with a byte order mark, CRLF line ends. The same
// input gives the same bytes.
func InstallScript(in Install) ([]byte, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	s := &script{}
	s.header(in)
	s.prelude(in)
	if hasUsages(in) {
		s.rollback()
	}
	s.installFunctions(in)
	for _, c := range in.Roots {
		s.linef("Install-CertFile %s %s 'Root'  # %s", quote(c.File), quote(strings.ToUpper(c.Thumbprint)), comment(c.Subject))
	}
	for _, c := range in.Intermediates {
		s.linef("Install-CertFile %s %s 'CA'  # %s", quote(c.File), quote(strings.ToUpper(c.Thumbprint)), comment(c.Subject))
	}
	for _, p := range in.Personal {
		s.linef("Install-Pfx %s %s %s $%t", quote(p.File), quote(strings.ToUpper(p.Thumbprint)), quote(p.FriendlyName), p.Exportable)
	}
	if hasUsages(in) {
		s.line("")
		s.line("Save-Previous")
		for _, p := range in.Personal {
			s.assign(p)
		}
	}
	s.finish(in)
	out := utf8BOM + strings.ReplaceAll(s.b.String(), "\n", "\r\n")
	return []byte(out), nil
}

func hasUsages(in Install) bool {
	return slices.ContainsFunc(in.Personal, func(p PFX) bool { return len(p.Usages) > 0 })
}

type script struct{ b strings.Builder }

func (s *script) line(l string) { s.b.WriteString(l); s.b.WriteByte('\n') }

func (s *script) linef(format string, args ...any) { s.line(fmt.Sprintf(format, args...)) }

func (s *script) lines(text string) {
	for _, l := range strings.Split(strings.TrimPrefix(text, "\n"), "\n") {
		s.line(l)
	}
}

func (s *script) header(in Install) {
	s.line("#Requires -Version 4.0")
	s.line("<#")
	s.line(".SYNOPSIS")
	s.linef("    Imports and assigns the certificates edgecert planned for %s.", in.Server)
	s.lines(`
.DESCRIPTION
    Written by edgecert; run it on the server it names, in an elevated Windows
    PowerShell 4.0 or 5.1. It imports the roots into Cert:\LocalMachine\Root,
    the intermediates into Cert:\LocalMachine\CA and each .pfx into
    Cert:\LocalMachine\My (each skipped when its thumbprint is there), sets
    each friendly name, assigns each usage with Set-CsCertificate, checks the
    result with Get-CsCertificate and Cert:\LocalMachine\My, and writes it as
    JSON. A second run changes nothing. -WhatIf shows what it would do;
    -Rollback restores the assignments that the first run replaced.
.PARAMETER TransferPasswordFile
    The file that holds the .pfx transfer password (default: ` + PasswordFileName + `
    next to this script).
.PARAMETER ResultFile
    Where the JSON result goes (default: ` + ResultFileName + ` next to this script).
.PARAMETER Rollback
    Assign again what ` + PreviousFileName + ` (written by the first run) holds.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$TransferPasswordFile = '',
    [string]$ResultFile = '',
    [switch]$Rollback
)
`)
}

func (s *script) prelude(in Install) {
	s.lines(`Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
$Cmdlet = $PSCmdlet
$Here = $PSScriptRoot
if (-not $Here) { $Here = Split-Path -Parent $MyInvocation.MyCommand.Path }
if (-not $TransferPasswordFile) { $TransferPasswordFile = Join-Path $Here '` + PasswordFileName + `' }
if (-not $ResultFile) { $ResultFile = Join-Path $Here '` + ResultFileName + `' }
$PreviousFile = Join-Path $Here '` + PreviousFileName + `'`)
	s.linef("$Server = %s", quote(in.Server))
	s.linef("$Uses = @(%s)", quotedList(assignedUses(in)))
	s.lines(`$Changed = New-Object System.Collections.ArrayList
$Unchanged = New-Object System.Collections.ArrayList
$Problems = New-Object System.Collections.ArrayList

function Stop-Install([string]$Message) {
    $host.UI.WriteErrorLine('edgecert: ' + $Message)
    exit 1
}

$identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
$principal = New-Object System.Security.Principal.WindowsPrincipal($identity)
if (-not $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Stop-Install 'run this script in an elevated Windows PowerShell (Run as administrator)'
}
$computer = [System.Net.Dns]::GetHostEntry([System.Net.Dns]::GetHostName()).HostName.ToLowerInvariant()
if ($computer -ne $Server) {
    Stop-Install ('this script is for {0}, but this computer is {1}' -f $Server, $computer)
}
`)
	if hasUsages(in) {
		s.lines(`if (-not (Get-Command Set-CsCertificate -ErrorAction SilentlyContinue)) {
    foreach ($module in @('SkypeForBusiness', 'Lync')) {
        if (Get-Module -ListAvailable -Name $module) { Import-Module $module; break }
    }
}
if (-not (Get-Command Set-CsCertificate -ErrorAction SilentlyContinue)) {
    Stop-Install 'the Lync Server or Skype for Business Server management module is not on this computer; run this script on the server itself'
}

function Test-Assigned([string]$Use, [string]$Thumbprint) {
    foreach ($a in @(Get-CsCertificate -Type $Use -ErrorAction SilentlyContinue)) {
        if ($a.Thumbprint -eq $Thumbprint) { return $true }
    }
    return $false
}

function Save-Previous {
    if ((Test-Path -LiteralPath $PreviousFile) -or $WhatIfPreference) { return }
    $saved = New-Object System.Collections.ArrayList
    foreach ($use in $Uses) {
        foreach ($a in @(Get-CsCertificate -Type $use -ErrorAction SilentlyContinue)) {
            if ($a.Thumbprint -and -not $a.EffectiveDate) {
                [void]$saved.Add((New-Object PSObject -Property @{ Use = $use; Thumbprint = [string]$a.Thumbprint }))
            }
        }
    }
    ConvertTo-Json -InputObject (New-Object PSObject -Property @{ assignments = @($saved) }) -Depth 3 |
        Set-Content -LiteralPath $PreviousFile -Encoding UTF8
}
`)
	}
}

// installFunctions renders the transfer password and the import functions.
func (s *script) installFunctions(in Install) {
	if len(in.Personal) > 0 {
		s.lines(`if (-not (Test-Path -LiteralPath $TransferPasswordFile)) {
    Stop-Install ('the transfer password file {0} does not exist; give it with -TransferPasswordFile' -f $TransferPasswordFile)
}
$PasswordText = [System.IO.File]::ReadAllText($TransferPasswordFile).TrimEnd([char[]]@([char]13, [char]10))
$Password = ConvertTo-SecureString -String $PasswordText -AsPlainText -Force
`)
	}
	s.lines(`function Install-CertFile([string]$File, [string]$Thumbprint, [string]$Store) {
    $location = 'Cert:\LocalMachine\' + $Store
    $path = Join-Path $Here $File
    if (Test-Path -LiteralPath ($location + '\' + $Thumbprint)) {
        [void]$Unchanged.Add($Store + '\' + $Thumbprint)
    } elseif ($Cmdlet.ShouldProcess($location, ('import {0} ({1})' -f $File, $Thumbprint))) {
        if (Get-Command Import-Certificate -ErrorAction SilentlyContinue) {
            Import-Certificate -FilePath $path -CertStoreLocation $location | Out-Null
        } else {
            & certutil.exe -f -addstore $Store $path | Out-Null
            if ($LASTEXITCODE -ne 0) { Stop-Install ('certutil could not import {0} into {1}' -f $File, $Store) }
        }
        [void]$Changed.Add($Store + '\' + $Thumbprint)
    }
}
`)
	if len(in.Personal) > 0 {
		s.lines(`function Install-Pfx([string]$File, [string]$Thumbprint, [string]$FriendlyName, [bool]$Exportable) {
    $target = 'Cert:\LocalMachine\My\' + $Thumbprint
    $path = Join-Path $Here $File
    if (Test-Path -LiteralPath $target) {
        [void]$Unchanged.Add('My\' + $Thumbprint)
    } elseif ($Cmdlet.ShouldProcess('Cert:\LocalMachine\My', ('import {0} ({1})' -f $File, $Thumbprint))) {
        if (Get-Command Import-PfxCertificate -ErrorAction SilentlyContinue) {
            if ($Exportable) {
                Import-PfxCertificate -FilePath $path -CertStoreLocation 'Cert:\LocalMachine\My' -Password $Password -Exportable | Out-Null
            } else {
                Import-PfxCertificate -FilePath $path -CertStoreLocation 'Cert:\LocalMachine\My' -Password $Password | Out-Null
            }
        } else {
            if ($Exportable) {
                & certutil.exe -f -p $PasswordText -importpfx My $path | Out-Null
            } else {
                & certutil.exe -f -p $PasswordText -importpfx My $path NoExport | Out-Null
            }
            if ($LASTEXITCODE -ne 0) { Stop-Install ('certutil could not import {0}' -f $File) }
        }
        [void]$Changed.Add('My\' + $Thumbprint)
    }
    if (Test-Path -LiteralPath $target) {
        $cert = Get-Item -LiteralPath $target
        if ($cert.FriendlyName -ne $FriendlyName -and $Cmdlet.ShouldProcess($target, ('set the friendly name to {0}' -f $FriendlyName))) {
            $cert.FriendlyName = $FriendlyName
            [void]$Changed.Add('FriendlyName ' + $Thumbprint)
        }
    }
}
`)
	}
}

// rollback renders -Rollback: assign again what the first run saved.
func (s *script) rollback() {
	s.lines(`if ($Rollback) {
    if (-not (Test-Path -LiteralPath $PreviousFile)) {
        Stop-Install ('nothing to roll back: {0} does not exist' -f $PreviousFile)
    }
    $previous = ConvertFrom-Json ([System.IO.File]::ReadAllText($PreviousFile))
    foreach ($p in @($previous.assignments)) {
        if (-not $Cmdlet.ShouldProcess($Server, ('assign {0} to {1} again' -f $p.Thumbprint, $p.Use))) { continue }
        if ($p.Use -eq 'OAuthTokenIssuer') {
            Set-CsCertificate -Identity Global -Type $p.Use -Thumbprint $p.Thumbprint -Confirm:$false
        } else {
            Set-CsCertificate -Type $p.Use -Thumbprint $p.Thumbprint -Confirm:$false
        }
        [void]$Changed.Add('rollback ' + $p.Use + ' ' + $p.Thumbprint)
    }
    ConvertTo-Json -InputObject (New-Object PSObject -Property @{ computer = $Server; changed = @($Changed) }) -Depth 3
    exit 0
}
`)
}

// assign renders the Set-CsCertificate lines of one certificate: the usages
// assigned at once together, and, when an effective date is set, the
// rolled usages (A/V authentication, OAuth) staged with -Roll.
func (s *script) assign(p PFX) {
	if len(p.Usages) == 0 {
		return
	}
	thumb := quote(strings.ToUpper(p.Thumbprint))
	var now, roll []string
	for _, u := range p.Usages {
		if !p.EffectiveDate.IsZero() && slices.Contains(rolled, u) {
			roll = append(roll, u)
		} else {
			now = append(now, u)
		}
	}
	s.line("")
	s.linef("# %s (%s)", comment(p.FriendlyName), comment(p.ID))
	groups := [][]string{}
	// OAuthTokenIssuer is global (-Identity Global): its own line.
	for _, g := range [][]string{now, roll} {
		var local, global []string
		for _, u := range g {
			if u == "OAuthTokenIssuer" {
				global = append(global, u)
			} else {
				local = append(local, u)
			}
		}
		groups = append(groups, local, global)
	}
	for i, g := range groups {
		if len(g) == 0 {
			continue
		}
		rolledGroup := i >= 2
		var tests []string
		for _, u := range g {
			tests = append(tests, fmt.Sprintf("(Test-Assigned '%s' %s)", u, thumb))
		}
		types := strings.Join(g, ",")
		s.linef("if (%s) {", strings.Join(tests, " -and "))
		s.linef("    [void]$Unchanged.Add('%s ' + %s)", types, thumb)
		s.linef("} elseif ($Cmdlet.ShouldProcess($Server, ('assign {0} to %s' -f %s))) {", types, thumb)
		args := "-Type " + types + " -Thumbprint " + thumb
		if g[0] == "OAuthTokenIssuer" {
			args = "-Identity Global " + args
		}
		if rolledGroup {
			args += " -Roll -EffectiveDate ([datetime]" + quote(p.EffectiveDate.UTC().Format(time.RFC3339)) + ")"
		}
		s.linef("    Set-CsCertificate %s -Confirm:$false", args)
		s.linef("    [void]$Changed.Add('%s ' + %s)", types, thumb)
		s.line("}")
	}
}

func (s *script) finish(in Install) {
	s.line("")
	s.line("if (-not $WhatIfPreference) {")
	for _, p := range in.Personal {
		thumb := quote(strings.ToUpper(p.Thumbprint))
		s.linef("    $cert = Get-Item -LiteralPath ('Cert:\\LocalMachine\\My\\' + %s) -ErrorAction SilentlyContinue", thumb)
		s.linef("    if (-not $cert) { [void]$Problems.Add('not in Cert:\\LocalMachine\\My: ' + %s) }", thumb)
		s.linef("    elseif (-not $cert.HasPrivateKey) { [void]$Problems.Add('no private key: ' + %s) }", thumb)
		for _, u := range p.Usages {
			if !p.EffectiveDate.IsZero() && slices.Contains(rolled, u) {
				continue // staged: Get-CsCertificate shows it with its effective date
			}
			s.linef("    if (-not (Test-Assigned '%s' %s)) { [void]$Problems.Add('not assigned to %s: ' + %s) }", u, thumb, u, thumb)
		}
	}
	s.lines(`}
$result = New-Object PSObject -Property ([ordered]@{
    computer = $Server
    whatIf = [bool]$WhatIfPreference
    changed = @($Changed)
    unchanged = @($Unchanged)
    problems = @($Problems)
})
$json = ConvertTo-Json -InputObject $result -Depth 3
if (-not $WhatIfPreference) { $json | Set-Content -LiteralPath $ResultFile -Encoding UTF8 }
$json
if ($Problems.Count -gt 0) { exit 1 }
exit 0`)
}

// assignedUses lists every usage the script assigns, in plan order.
func assignedUses(in Install) []string {
	var out []string
	for _, p := range in.Personal {
		for _, u := range p.Usages {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

func quotedList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = quote(it)
	}
	return strings.Join(q, ", ")
}
