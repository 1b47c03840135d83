<#
.SYNOPSIS
    Makes on edge01.contoso.net the certificate requests that edgecert planned for it,
    with the keys made here (the Deployment Wizard's delayed request).

.DESCRIPTION
    Written by edgecert export windows --requests. Run it on edge01.contoso.net,
    elevated, in the Lync Server / Skype for Business Server Management Shell,
    under Windows PowerShell 4.0 or 5.1. For each planned certificate it runs
    Request-CsCertificate -New ... -Output FILE with the plan's usages, names,
    key, exportability and friendly name, and writes the request beside this
    script. A request file already there is kept (a second run changes
    nothing). -WhatIf shows what it would request.

    Then: check each request against the plan (edgecert request check), have
    it issued, put each answer (.p7b or .cer, named as below) beside
    Complete-EdgecertRequests.ps1 and run that script.

      edge-internal_lsedge.contoso.net.req  ->  answer edge-internal_lsedge.contoso.net.p7b
      edge-external_lsedge.contoso.net.req  ->  answer edge-external_lsedge.contoso.net.p7b

.EXAMPLE
    .\Request-EdgecertCertificates.ps1 -WhatIf
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param()

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$Plan = @{ Server = 'edge01.contoso.net' }
$Here = $PSScriptRoot

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

# edge-internal/lsedge.contoso.net
$out = Join-Path -Path $Here -ChildPath 'edge-internal_lsedge.contoso.net.req'
if (Test-Path -LiteralPath $out) {
    Write-Output ('{0} exists: kept' -f $out)
} elseif ($PSCmdlet.ShouldProcess('edge-internal/lsedge.contoso.net', 'Request-CsCertificate -New')) {
    Request-CsCertificate -New -Type 'Internal' -DomainName 'lsedge.contoso.net' -KeyAlg RSA -KeySize 2048 -PrivateKeyExportable $true -Template 'WebServer' -Organization 'Contoso Ltd' -OU 'IT' -City 'Redmond' -State 'Washington' -Country 'US' -Output $out -Confirm:$false -FriendlyName 'Edge Internal lsedge.contoso.net'
    Add-EdgecertChange ('requested {0}: {1}' -f 'edge-internal/lsedge.contoso.net', $out)
}
# edge-external/lsedge.contoso.net
$out = Join-Path -Path $Here -ChildPath 'edge-external_lsedge.contoso.net.req'
if (Test-Path -LiteralPath $out) {
    Write-Output ('{0} exists: kept' -f $out)
} elseif ($PSCmdlet.ShouldProcess('edge-external/lsedge.contoso.net', 'Request-CsCertificate -New')) {
    Request-CsCertificate -New -Type 'AccessEdgeExternal','AudioVideoAuthentication','DataEdgeExternal' -DomainName 'sip.contoso.com,webcon.contoso.com,sip.fabrikam.com' -KeyAlg RSA -KeySize 2048 -PrivateKeyExportable $true -Template 'WebServer' -Organization 'Contoso Ltd' -OU 'IT' -City 'Redmond' -State 'Washington' -Country 'US' -Output $out -Confirm:$false -FriendlyName 'Edge External lsedge.contoso.net'
    Add-EdgecertChange ('requested {0}: {1}' -f 'edge-external/lsedge.contoso.net', $out)
}
Write-Output ('{0} request(s) made; check each with edgecert request check, have it issued, then run Complete-EdgecertRequests.ps1' -f $Changes.Count)
