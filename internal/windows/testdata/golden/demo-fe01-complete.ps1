<#
.SYNOPSIS
    Completes on fe01.contoso.net the requests that Request-EdgecertCertificates.ps1
    made: imports each answer, assigns its usages and, for a certificate the
    plan shares, exports it as .pfx for the other members.

.DESCRIPTION
    Written by edgecert export windows --requests. Run it on fe01.contoso.net,
    elevated, in the Lync Server / Skype for Business Server Management Shell,
    under Windows PowerShell 4.0 or 5.1, with the answers beside it (or in
    -AnswerFolder):

      default_fe01.contoso.net.p7b (or .cer) for default/fe01.contoso.net
      web-internal_fe01.contoso.net.p7b (or .cer) for web-internal/fe01.contoso.net
      web-external_fe01.contoso.net.p7b (or .cer) for web-external/fe01.contoso.net
      oauth_global.p7b (or .cer) for oauth/global; exported as oauth_global.pfx for fe02.contoso.net

    Each answer is imported with Import-CsCertificate (the key made by the
    request joins it), each usage assigned with Set-CsCertificate. A second
    run changes nothing; -WhatIf shows what it would do.

.PARAMETER AnswerFolder
    Where the answers are (default: beside the script).

.PARAMETER PasswordFile
    The file holding the password for the exported .pfx files (default:
    transfer-password.txt beside the script; asked for when missing).
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$AnswerFolder,
    [string]$PasswordFile
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$Plan = @{ Server = 'fe01.contoso.net' }
$Here = $PSScriptRoot
if (-not $AnswerFolder) { $AnswerFolder = $Here }

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

function Get-EdgecertAnswer {
    param([string]$Name, [string]$CommonName)
    $path = Join-Path -Path $AnswerFolder -ChildPath $Name
    if (-not (Test-Path -LiteralPath $path)) { $path = [System.IO.Path]::ChangeExtension($path, '.cer') }
    if (-not (Test-Path -LiteralPath $path)) { Stop-Edgecert ('no answer {0} (or .cer) in {1}' -f $Name, $AnswerFolder) }
    $all = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
    $all.Import($path)
    foreach ($c in $all) {
        if ($c.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::SimpleName, $false) -eq $CommonName) {
            return @{ Path = $path; Thumbprint = $c.Thumbprint }
        }
    }
    Stop-Edgecert ('{0} holds no certificate for {1}' -f $path, $CommonName)
}

function Get-EdgecertPassword {
    $path = $PasswordFile
    if (-not $path) { $path = Join-Path -Path $Here -ChildPath 'transfer-password.txt' }
    if (Test-Path -LiteralPath $path) { return (Get-Content -LiteralPath $path -TotalCount 1).Trim() }
    $secure = Read-Host -Prompt 'Password for the exported .pfx files' -AsSecureString
    $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($secure)
    try { return [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr) }
    finally { [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr) }
}

$assigned = Get-EdgecertAssigned
$replaced = New-Object -TypeName System.Collections.ArrayList

# default/fe01.contoso.net
$answer = Get-EdgecertAnswer -Name 'default_fe01.contoso.net.p7b' -CommonName 'pool01.contoso.net'
$cert = @{ Id = 'default/fe01.contoso.net'; Thumbprint = $answer.Thumbprint }
$item = Get-Item -Path ('Cert:\LocalMachine\My\' + $answer.Thumbprint) -ErrorAction SilentlyContinue
if (-not $item -or -not $item.HasPrivateKey) {
    if ($PSCmdlet.ShouldProcess($answer.Path, 'Import-CsCertificate')) {
        Import-CsCertificate -Path $answer.Path -PrivateKeyExportable $false -Confirm:$false
        Add-EdgecertChange ('imported {0} ({1})' -f 'default/fe01.contoso.net', $answer.Thumbprint)
    }
}
Set-EdgecertAssignment -Cert $cert -Call @{ Types = @('Default'); Roll = $false; EffectiveDate = $null; Global = $false } -Assigned $assigned -Replaced $replaced

# web-internal/fe01.contoso.net
$answer = Get-EdgecertAnswer -Name 'web-internal_fe01.contoso.net.p7b' -CommonName 'pool01.contoso.net'
$cert = @{ Id = 'web-internal/fe01.contoso.net'; Thumbprint = $answer.Thumbprint }
$item = Get-Item -Path ('Cert:\LocalMachine\My\' + $answer.Thumbprint) -ErrorAction SilentlyContinue
if (-not $item -or -not $item.HasPrivateKey) {
    if ($PSCmdlet.ShouldProcess($answer.Path, 'Import-CsCertificate')) {
        Import-CsCertificate -Path $answer.Path -PrivateKeyExportable $false -Confirm:$false
        Add-EdgecertChange ('imported {0} ({1})' -f 'web-internal/fe01.contoso.net', $answer.Thumbprint)
    }
}
Set-EdgecertAssignment -Cert $cert -Call @{ Types = @('WebServicesInternal'); Roll = $false; EffectiveDate = $null; Global = $false } -Assigned $assigned -Replaced $replaced

# web-external/fe01.contoso.net
$answer = Get-EdgecertAnswer -Name 'web-external_fe01.contoso.net.p7b' -CommonName 'pool01.contoso.net'
$cert = @{ Id = 'web-external/fe01.contoso.net'; Thumbprint = $answer.Thumbprint }
$item = Get-Item -Path ('Cert:\LocalMachine\My\' + $answer.Thumbprint) -ErrorAction SilentlyContinue
if (-not $item -or -not $item.HasPrivateKey) {
    if ($PSCmdlet.ShouldProcess($answer.Path, 'Import-CsCertificate')) {
        Import-CsCertificate -Path $answer.Path -PrivateKeyExportable $false -Confirm:$false
        Add-EdgecertChange ('imported {0} ({1})' -f 'web-external/fe01.contoso.net', $answer.Thumbprint)
    }
}
Set-EdgecertAssignment -Cert $cert -Call @{ Types = @('WebServicesExternal'); Roll = $false; EffectiveDate = $null; Global = $false } -Assigned $assigned -Replaced $replaced

# oauth/global
$answer = Get-EdgecertAnswer -Name 'oauth_global.p7b' -CommonName 'contoso.com'
$cert = @{ Id = 'oauth/global'; Thumbprint = $answer.Thumbprint }
$item = Get-Item -Path ('Cert:\LocalMachine\My\' + $answer.Thumbprint) -ErrorAction SilentlyContinue
if (-not $item -or -not $item.HasPrivateKey) {
    if ($PSCmdlet.ShouldProcess($answer.Path, 'Import-CsCertificate')) {
        Import-CsCertificate -Path $answer.Path -PrivateKeyExportable $true -Confirm:$false
        Add-EdgecertChange ('imported {0} ({1})' -f 'oauth/global', $answer.Thumbprint)
    }
}
Set-EdgecertAssignment -Cert $cert -Call @{ Types = @('OAuthTokenIssuer'); Roll = $false; EffectiveDate = $null; Global = $true } -Assigned $assigned -Replaced $replaced
$pfx = Join-Path -Path $Here -ChildPath 'oauth_global.pfx'
if (-not (Test-Path -LiteralPath $pfx) -and $PSCmdlet.ShouldProcess($pfx, 'Export-PfxCertificate')) {
    $secure = ConvertTo-SecureString -String (Get-EdgecertPassword) -AsPlainText -Force
    $certPath = 'Cert:\LocalMachine\My\' + $answer.Thumbprint
    $exported = Export-PfxCertificate -Cert $certPath -FilePath $pfx -Password $secure -ChainOption BuildChain
    Add-EdgecertChange ('exported {0} for {1}' -f $pfx, 'fe02.contoso.net')
}

Write-Output ('{0} change(s): {1}' -f $Changes.Count, ($Changes -join '; '))
