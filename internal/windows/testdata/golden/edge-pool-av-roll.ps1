<#
.SYNOPSIS
    Installs and assigns the certificates that edgecert planned for edge01.contoso.net.

.DESCRIPTION
    Written by edgecert export windows for this server only. Run it on
    edge01.contoso.net, elevated, from the folder it was written to, under Windows
    PowerShell 4.0 or 5.1, in the Lync Server / Skype for Business Server
    Management Shell (or with its module installed). It:

      - imports the roots into Cert:\LocalMachine\Root and the intermediates
        into Cert:\LocalMachine\CA, skipping those already present;
      - imports each .pfx into Cert:\LocalMachine\My, with the key exportable
        exactly when the plan shares the certificate, and the plan's
        friendly name;
      - assigns each usage with Set-CsCertificate (-Roll -EffectiveDate for a
        staged A/V Authentication or OAuth certificate);
      - checks the result and writes it as JSON to
        Install-EdgecertCertificates.result.json (and to the output).

    A second run changes nothing. -WhatIf shows what would change.
    The assignments it replaced are kept in
    Install-EdgecertCertificates.previous.json; -Rollback puts them back.

.PARAMETER PasswordFile
    The file holding the .pfx transfer password (default:
    transfer-password.txt beside the script). When it is missing the
    password is asked for.

.PARAMETER Rollback
    Assign again the certificates that the last run replaced.

.EXAMPLE
    .\Install-EdgecertCertificates.ps1 -WhatIf

.EXAMPLE
    .\Install-EdgecertCertificates.ps1
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$PasswordFile,
    [switch]$Rollback
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$Plan = @{
    Server        = 'edge01.contoso.net'
    Lync          = $true
    Roots         = @(
        @{ File = 'roots/Contoso-Root-CA.cer'; Thumbprint = 'DC76E9F0C0006E8F919E0C515C66DBBA3982F785'; Subject = 'CN=Contoso Root CA' }
    )
    Intermediates = @(
        @{ File = 'intermediates/Contoso-Issuing-CA.cer'; Thumbprint = 'F15238512DBE5032DC7A8D36DFCD24CF39488201'; Subject = 'CN=Contoso Issuing CA, O=Contoso''s IT' }
    )
    Certificates  = @(
        @{
            Id           = 'edge-internal/lsedge.contoso.net'
            File         = 'edge-internal_lsedge.contoso.net.pfx'
            Thumbprint   = 'A3604E5FD47D3F538E324D153C2B1F1CFDF50C2E'
            FriendlyName = 'Edge Internal lsedge.contoso.net'
            Exportable   = $true
            Assign       = @(
                @{ Types = @('Internal'); Roll = $false; EffectiveDate = $null; Global = $false }
            )
        }
        @{
            Id           = 'edge-external/lsedge.contoso.net'
            File         = 'edge-external_lsedge.contoso.net-8091E7D6.pfx'
            Thumbprint   = '8091E7D6B619C81A18602C335D8310D0FF0E5FEF'
            FriendlyName = 'Edge External lsedge.contoso.net'
            Exportable   = $true
            Assign       = @(
                @{ Types = @('AccessEdgeExternal', 'AudioVideoAuthentication', 'DataEdgeExternal'); Roll = $false; EffectiveDate = $null; Global = $false }
            )
        }
        @{
            Id           = 'edge-external/lsedge.contoso.net'
            File         = 'edge-external_lsedge.contoso.net-DF21B68C.pfx'
            Thumbprint   = 'DF21B68C64741C2F8512BFA513FCB73C17BA70BF'
            FriendlyName = 'Edge External lsedge.contoso.net'
            Exportable   = $true
            Assign       = @(
                @{ Types = @('AudioVideoAuthentication'); Roll = $true; EffectiveDate = [datetime]::Parse('2027-01-15T18:00:00Z', [System.Globalization.CultureInfo]::InvariantCulture); Global = $false }
            )
        }
    )
}

$Here = $PSScriptRoot
$ResultFile = Join-Path -Path $Here -ChildPath 'Install-EdgecertCertificates.result.json'
$PreviousFile = Join-Path -Path $Here -ChildPath 'Install-EdgecertCertificates.previous.json'
$Changes = New-Object -TypeName System.Collections.ArrayList

function Stop-Edgecert {
    param([string]$Message)
    $host.UI.WriteErrorLine((Split-Path -Leaf $PSCommandPath) + ': ' + $Message)
    exit 1
}

function Add-EdgecertChange {
    param([string]$What)
    [void]$Changes.Add($What)
    Write-Verbose $What
}

# Get-EdgecertFqdn returns this computer's FQDN: its host name and primary
# DNS suffix, lower case, as the topology names it.
function Get-EdgecertFqdn {
    $ipp = [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties()
    if ($ipp.DomainName) {
        return ('{0}.{1}' -f $ipp.HostName, $ipp.DomainName).ToLowerInvariant()
    }
    return ([string]$ipp.HostName).ToLowerInvariant()
}

# 1. The right computer, elevated, with the Lync / Skype for Business module.
$principal = New-Object -TypeName System.Security.Principal.WindowsPrincipal -ArgumentList ([System.Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Stop-Edgecert 'run it elevated (as administrator): it writes to the LocalMachine certificate stores'
}
$computer = Get-EdgecertFqdn
if ($computer -ne $Plan.Server) {
    Stop-Edgecert ('this script is for {0}, but this computer is {1}: use the one made for {1} (edgecert export windows --server {1})' -f $Plan.Server, $computer)
}
if ($true) {
    if (-not (Get-Command -Name Set-CsCertificate -ErrorAction SilentlyContinue)) {
        foreach ($module in @('SkypeForBusiness', 'Lync')) {
            if (Get-Module -ListAvailable -Name $module) {
                Import-Module -Name $module -ErrorAction SilentlyContinue
                break
            }
        }
    }
    if (-not (Get-Command -Name Set-CsCertificate -ErrorAction SilentlyContinue)) {
        Stop-Edgecert 'Set-CsCertificate is not available: run it in the Lync Server / Skype for Business Server Management Shell'
    }
}
function Get-EdgecertAssigned {
    $out = @{}
    foreach ($a in @(Get-CsCertificate)) {
        $out[[string]$a.Use] = [string]$a.Thumbprint
    }
    return $out
}

function Write-EdgecertResult {
    param([bool]$Ok, [string]$Problem)
    $assigned = @()
    if ($Plan.Lync) {
        foreach ($a in @(Get-CsCertificate)) {
            $effective = $null
            if ($a.EffectiveDate) { $effective = ([datetime]$a.EffectiveDate).ToUniversalTime().ToString('o') }
            $assigned += New-Object -TypeName PSObject -Property ([ordered]@{
                Use                = [string]$a.Use
                Thumbprint         = [string]$a.Thumbprint
                EffectiveDate      = $effective
                PreviousThumbprint = [string]$a.PreviousThumbprint
            })
        }
    }
    $my = @()
    foreach ($c in $Plan.Certificates) {
        $item = Get-Item -Path ('Cert:\LocalMachine\My\' + $c.Thumbprint) -ErrorAction SilentlyContinue
        $my += New-Object -TypeName PSObject -Property ([ordered]@{
            Id            = $c.Id
            Thumbprint    = $c.Thumbprint
            Present       = [bool]$item
            HasPrivateKey = [bool]($item -and $item.HasPrivateKey)
            FriendlyName  = $(if ($item) { $item.FriendlyName } else { $null })
        })
    }
    $result = New-Object -TypeName PSObject -Property ([ordered]@{
        computer      = $computer
        ok            = $Ok
        problem       = $Problem
        whatIf        = [bool]$WhatIfPreference
        changes       = @($Changes)
        My            = $my
        CsCertificate = $assigned
    })
    $json = ConvertTo-Json -InputObject $result -Depth 5
    if (-not $WhatIfPreference) {
        [System.IO.File]::WriteAllText($ResultFile, $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
    }
    Write-Output $json
}

# Rollback: assign again what the last run replaced.
if ($Rollback) {
    if (-not (Test-Path -LiteralPath $PreviousFile)) {
        Stop-Edgecert ('nothing to roll back: {0} is missing' -f $PreviousFile)
    }
    $previous = Get-Content -LiteralPath $PreviousFile -Raw | ConvertFrom-Json
    $now = Get-EdgecertAssigned
    foreach ($p in @($previous)) {
        if (-not $p.Thumbprint -or $now[[string]$p.Use] -eq $p.Thumbprint) { continue }
        if ($PSCmdlet.ShouldProcess(('{0} -> {1}' -f $p.Use, $p.Thumbprint), 'Set-CsCertificate')) {
            if ($p.Use -eq 'OAuthTokenIssuer') {
                Set-CsCertificate -Identity Global -Type $p.Use -Thumbprint $p.Thumbprint -Confirm:$false
            } else {
                Set-CsCertificate -Type $p.Use -Thumbprint $p.Thumbprint -Confirm:$false
            }
            Add-EdgecertChange ('rolled back {0} to {1}' -f $p.Use, $p.Thumbprint)
        }
    }
    Write-EdgecertResult -Ok $true -Problem $null
    exit 0
}

# 2. Roots and intermediates, skipping those present.
function Import-EdgecertCA {
    param([hashtable]$Cert, [string]$Store)
    if (Test-Path -Path ('Cert:\LocalMachine\{0}\{1}' -f $Store, $Cert.Thumbprint)) { return }
    $file = Join-Path -Path $Here -ChildPath $Cert.File
    if ($PSCmdlet.ShouldProcess(('{0} ({1})' -f $Cert.Subject, $Cert.Thumbprint), ('import into Cert:\LocalMachine\' + $Store))) {
        if (Get-Command -Name Import-Certificate -ErrorAction SilentlyContinue) {
            [void](Import-Certificate -FilePath $file -CertStoreLocation ('Cert:\LocalMachine\' + $Store))
        } else {
            & certutil.exe -f -addstore $Store $file | Out-Null
            if ($LASTEXITCODE -ne 0) { throw ('certutil -addstore {0} {1} failed ({2})' -f $Store, $file, $LASTEXITCODE) }
        }
        Add-EdgecertChange ('imported {0} into {1}' -f $Cert.Subject, $Store)
    }
}

# 3. The personal certificates, with the plan's exportability and friendly name.
function Get-EdgecertPassword {
    $path = $PasswordFile
    if (-not $path) { $path = Join-Path -Path $Here -ChildPath 'transfer-password.txt' }
    if (Test-Path -LiteralPath $path) {
        return (Get-Content -LiteralPath $path -TotalCount 1).Trim()
    }
    $secure = Read-Host -Prompt 'Transfer password of the .pfx files' -AsSecureString
    $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($secure)
    try { return [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr) }
    finally { [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr) }
}

function Import-EdgecertPfx {
    param([hashtable]$Cert, [string]$Password)
    $path = 'Cert:\LocalMachine\My\' + $Cert.Thumbprint
    $item = Get-Item -Path $path -ErrorAction SilentlyContinue
    if (-not $item -or -not $item.HasPrivateKey) {
        $file = Join-Path -Path $Here -ChildPath $Cert.File
        if ($PSCmdlet.ShouldProcess(('{0} ({1}), exportable: {2}' -f $Cert.Id, $Cert.Thumbprint, $Cert.Exportable), 'import into Cert:\LocalMachine\My')) {
            $before = @{}
            foreach ($present in @(Get-ChildItem -Path Cert:\LocalMachine\My)) { $before[$present.Thumbprint] = $true }
            if (Get-Command -Name Import-PfxCertificate -ErrorAction SilentlyContinue) {
                $secure = ConvertTo-SecureString -String $Password -AsPlainText -Force
                if ($Cert.Exportable) {
                    [void](Import-PfxCertificate -FilePath $file -CertStoreLocation Cert:\LocalMachine\My -Password $secure -Exportable)
                } else {
                    [void](Import-PfxCertificate -FilePath $file -CertStoreLocation Cert:\LocalMachine\My -Password $secure)
                }
            } else {
                if ($Cert.Exportable) {
                    & certutil.exe -f -p $Password -importpfx My $file | Out-Null
                } else {
                    & certutil.exe -f -p $Password -importpfx My $file NoExport | Out-Null
                }
                if ($LASTEXITCODE -ne 0) { throw ('certutil -importpfx {0} failed ({1})' -f $file, $LASTEXITCODE) }
            }
            # The .pfx carries its chain, and the import puts every certificate
            # of it into My: the CA certificates belong in Root and CA (step 2).
            foreach ($ca in @($Plan.Roots) + @($Plan.Intermediates)) {
                $stray = 'Cert:\LocalMachine\My\' + $ca.Thumbprint
                if (-not $before[$ca.Thumbprint] -and (Test-Path -Path $stray)) { Remove-Item -Path $stray }
            }
            Add-EdgecertChange ('imported {0} ({1})' -f $Cert.Id, $Cert.Thumbprint)
        }
        $item = Get-Item -Path $path -ErrorAction SilentlyContinue
    }
    if ($item -and $item.FriendlyName -ne $Cert.FriendlyName) {
        if ($PSCmdlet.ShouldProcess($Cert.Thumbprint, ('set the friendly name to ' + $Cert.FriendlyName))) {
            $item.FriendlyName = $Cert.FriendlyName
            Add-EdgecertChange ('friendly name of {0}: {1}' -f $Cert.Thumbprint, $Cert.FriendlyName)
        }
    }
}

# 4. The assignments, keeping what they replace for -Rollback.
function Set-EdgecertAssignment {
    param([hashtable]$Cert, [hashtable]$Call, [hashtable]$Assigned, [System.Collections.ArrayList]$Replaced)
    foreach ($type in $Call.Types) {
        if (-not $Call.Roll -and $Assigned[$type] -eq $Cert.Thumbprint) { continue }
        if ($Call.Roll) {
            $pending = @(Get-CsCertificate -Type $type | Where-Object { $_.Thumbprint -eq $Cert.Thumbprint })
            if ($pending.Count -gt 0) { continue }
        }
        [void]$Replaced.Add((New-Object -TypeName PSObject -Property ([ordered]@{ Use = $type; Thumbprint = $Assigned[$type] })))
        if (-not $PSCmdlet.ShouldProcess(('{0} -> {1}' -f $type, $Cert.Thumbprint), 'Set-CsCertificate')) { continue }
        $thumb = $Cert.Thumbprint
        if ($Call.Roll -and $Call.Global) {
            Set-CsCertificate -Identity Global -Type $type -Thumbprint $thumb -Roll -EffectiveDate $Call.EffectiveDate -Confirm:$false
        } elseif ($Call.Roll) {
            Set-CsCertificate -Type $type -Thumbprint $thumb -Roll -EffectiveDate $Call.EffectiveDate -Confirm:$false
        } elseif ($Call.Global) {
            Set-CsCertificate -Identity Global -Type $type -Thumbprint $thumb -Confirm:$false
        } else {
            Set-CsCertificate -Type $type -Thumbprint $thumb -Confirm:$false
        }
        Add-EdgecertChange ('assigned {0} to {1}' -f $type, $thumb)
    }
}

try {
    foreach ($c in $Plan.Roots) { Import-EdgecertCA -Cert $c -Store 'Root' }
    foreach ($c in $Plan.Intermediates) { Import-EdgecertCA -Cert $c -Store 'CA' }
    $password = $null
    foreach ($c in $Plan.Certificates) {
        $item = Get-Item -Path ('Cert:\LocalMachine\My\' + $c.Thumbprint) -ErrorAction SilentlyContinue
        if ((-not $item -or -not $item.HasPrivateKey) -and $null -eq $password) { $password = Get-EdgecertPassword }
        Import-EdgecertPfx -Cert $c -Password $password
    }
    if ($Plan.Lync) {
        $assigned = Get-EdgecertAssigned
        $replaced = New-Object -TypeName System.Collections.ArrayList
        foreach ($c in $Plan.Certificates) {
            foreach ($call in $c.Assign) { Set-EdgecertAssignment -Cert $c -Call $call -Assigned $assigned -Replaced $replaced }
        }
        if ($replaced.Count -gt 0 -and -not $WhatIfPreference) {
            $json = ConvertTo-Json -InputObject @($replaced) -Depth 3
            [System.IO.File]::WriteAllText($PreviousFile, $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
        }
    }
} catch {
    Write-EdgecertResult -Ok $false -Problem $_.Exception.Message
    Stop-Edgecert $_.Exception.Message
}

# 5. Check: every certificate in My with its key, every usage assigned.
$problems = @()
if (-not $WhatIfPreference) {
    $assigned = @{}
    if ($Plan.Lync) { $assigned = Get-EdgecertAssigned }
    foreach ($c in $Plan.Certificates) {
        $item = Get-Item -Path ('Cert:\LocalMachine\My\' + $c.Thumbprint) -ErrorAction SilentlyContinue
        if (-not $item -or -not $item.HasPrivateKey) { $problems += ('{0} ({1}) is not in Cert:\LocalMachine\My with its key' -f $c.Id, $c.Thumbprint) }
        foreach ($call in $c.Assign) {
            if ($call.Roll) { continue }
            foreach ($type in $call.Types) {
                if ($assigned[$type] -ne $c.Thumbprint) { $problems += ('{0} is assigned {1}, not {2}' -f $type, $assigned[$type], $c.Thumbprint) }
            }
        }
    }
}
if ($problems.Count -gt 0) {
    Write-EdgecertResult -Ok $false -Problem ($problems -join '; ')
    Stop-Edgecert ($problems -join '; ')
}
Write-EdgecertResult -Ok $true -Problem $null
