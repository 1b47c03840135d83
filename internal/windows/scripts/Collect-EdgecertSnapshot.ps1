<#
.SYNOPSIS
    Records what this server holds, for "edgecert verify --snapshot". Read-only.

.DESCRIPTION
    Writes one JSON file with this computer's FQDN, the certificates of its
    LocalMachine Trusted Root (Root), Intermediate (CA) and Personal (My)
    stores (DER, friendly name, whether a private key is present and whether
    it is exportable), and, on a Lync Server 2013 or Skype for Business Server,
    the certificate assignments that Get-CsCertificate reports.

    Nothing on the server is changed. Runs under Windows PowerShell 4.0 and 5.1.
    Run it elevated (as administrator): reading whether a LocalMachine key is
    exportable needs it; without elevation PrivateKeyExportable is null.

.PARAMETER OutFile
    The file to write (default: <FQDN>.snapshot.json in the current folder).

.EXAMPLE
    .\Collect-EdgecertSnapshot.ps1 -OutFile C:\Temp\edge01.snapshot.json
#>
[CmdletBinding()]
param(
    [string]$OutFile
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

function Get-EdgecertFqdn {
    $ipp = [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties()
    if ($ipp.DomainName) {
        return ('{0}.{1}' -f $ipp.HostName, $ipp.DomainName).ToLowerInvariant()
    }
    return ([string]$ipp.HostName).ToLowerInvariant()
}

function Test-EdgecertKeyExportable {
    param([System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate)
    if (-not $Certificate.HasPrivateKey) { return $null }
    $cngFlags = 0
    try {
        $cngFlags = [int][System.Security.Cryptography.CngExportPolicies]::AllowExport -bor [int][System.Security.Cryptography.CngExportPolicies]::AllowPlaintextExport
    } catch { $cngFlags = 3 }
    foreach ($getter in @('GetRSAPrivateKey', 'GetECDsaPrivateKey')) {
        try {
            $type = 'System.Security.Cryptography.X509Certificates.RSACertificateExtensions'
            if ($getter -eq 'GetECDsaPrivateKey') { $type = 'System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions' }
            $key = ($type -as [type])::$getter($Certificate)
            if ($null -eq $key) { continue }
            if ($key.PSObject.Properties['Key'] -and $null -ne $key.Key) {
                return [bool]([int]$key.Key.ExportPolicy -band $cngFlags)
            }
            if ($key.PSObject.Properties['CspKeyContainerInfo']) {
                return [bool]$key.CspKeyContainerInfo.Exportable
            }
        } catch { }
    }
    try {
        $legacy = $Certificate.PrivateKey
        if ($null -ne $legacy -and $legacy.PSObject.Properties['CspKeyContainerInfo']) {
            return [bool]$legacy.CspKeyContainerInfo.Exportable
        }
    } catch { }
    return $null
}

function Get-EdgecertStore {
    param([string]$Name, [switch]$WithKeys)
    $out = @()
    foreach ($cert in @(Get-ChildItem -Path ('Cert:\LocalMachine\' + $Name))) {
        $item = [ordered]@{
            Thumbprint   = $cert.Thumbprint
            FriendlyName = $cert.FriendlyName
            Subject      = $cert.Subject
            NotAfter     = $cert.NotAfter.ToUniversalTime().ToString('o')
            RawData      = [Convert]::ToBase64String($cert.RawData)
        }
        if ($WithKeys) {
            $item.HasPrivateKey = [bool]$cert.HasPrivateKey
            $item.PrivateKeyExportable = Test-EdgecertKeyExportable -Certificate $cert
        }
        $out += New-Object -TypeName PSObject -Property $item
    }
    return ,$out
}

function Get-EdgecertAssignments {
    if (-not (Get-Command -Name Get-CsCertificate -ErrorAction SilentlyContinue)) {
        foreach ($module in @('SkypeForBusiness', 'Lync')) {
            if (Get-Module -ListAvailable -Name $module) {
                Import-Module -Name $module -ErrorAction SilentlyContinue
                break
            }
        }
    }
    if (-not (Get-Command -Name Get-CsCertificate -ErrorAction SilentlyContinue)) {
        Write-Warning 'Get-CsCertificate is not available (no Lync / Skype for Business module): the snapshot has no assignments.'
        return $null
    }
    $out = @()
    foreach ($a in @(Get-CsCertificate)) {
        $effective = $null
        if ($a.EffectiveDate) { $effective = ([datetime]$a.EffectiveDate).ToUniversalTime().ToString('o') }
        $out += New-Object -TypeName PSObject -Property ([ordered]@{
            Use                = [string]$a.Use
            Thumbprint         = [string]$a.Thumbprint
            EffectiveDate      = $effective
            PreviousThumbprint = [string]$a.PreviousThumbprint
            Subject            = [string]$a.Subject
        })
    }
    return ,$out
}

$principal = New-Object -TypeName System.Security.Principal.WindowsPrincipal -ArgumentList ([System.Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Write-Warning 'Not elevated: whether each private key is exportable cannot be read (PrivateKeyExportable will be null).'
}

$computer = Get-EdgecertFqdn
if (-not $OutFile) { $OutFile = Join-Path -Path (Get-Location).Path -ChildPath ($computer + '.snapshot.json') }

$snapshot = [ordered]@{
    version       = 1
    computer      = $computer
    collected     = (Get-Date).ToUniversalTime().ToString('o')
    Root          = Get-EdgecertStore -Name 'Root'
    CA            = Get-EdgecertStore -Name 'CA'
    My            = Get-EdgecertStore -Name 'My' -WithKeys
    CsCertificate = Get-EdgecertAssignments
}

$json = ConvertTo-Json -InputObject (New-Object -TypeName PSObject -Property $snapshot) -Depth 5
[System.IO.File]::WriteAllText($OutFile, $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
Write-Output ('Wrote {0} (Root {1}, CA {2}, My {3} certificates)' -f $OutFile, @($snapshot.Root).Count, @($snapshot.CA).Count, @($snapshot.My).Count)
