<#
.SYNOPSIS
    Makes on fe01.contoso.net the certificate requests that edgecert planned for it,
    with the keys made here (the Deployment Wizard's delayed request).

.DESCRIPTION
    Written by edgecert export windows --requests. Run it on fe01.contoso.net,
    elevated, in the Lync Server / Skype for Business Server Management Shell,
    under Windows PowerShell 4.0 or 5.1. For each planned certificate it runs
    Request-CsCertificate -New ... -Output FILE with the plan's usages, names,
    key, exportability and friendly name, and writes the request beside this
    script. A request file already there is kept (a second run changes
    nothing). -WhatIf shows what it would request.

    Then: check each request against the plan (edgecert request check), have
    it issued, put each answer (.p7b or .cer, named as below) beside
    Complete-EdgecertRequests.ps1 and run that script.

      default_fe01.contoso.net.req  ->  answer default_fe01.contoso.net.p7b
      web-internal_fe01.contoso.net.req  ->  answer web-internal_fe01.contoso.net.p7b
      web-external_fe01.contoso.net.req  ->  answer web-external_fe01.contoso.net.p7b
      oauth_global.req  ->  answer oauth_global.p7b

.EXAMPLE
    .\Request-EdgecertCertificates.ps1 -WhatIf
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param()

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$Plan = @{ Server = 'fe01.contoso.net' }
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

# default/fe01.contoso.net
$out = Join-Path -Path $Here -ChildPath 'default_fe01.contoso.net.req'
if (Test-Path -LiteralPath $out) {
    Write-Output ('{0} exists: kept' -f $out)
} elseif ($PSCmdlet.ShouldProcess('default/fe01.contoso.net', 'Request-CsCertificate -New')) {
    Request-CsCertificate -New -Type 'Default' -DomainName 'pool01.contoso.net,fe01.contoso.net,sip.contoso.com,sip.fabrikam.com' -KeyAlg RSA -KeySize 2048 -PrivateKeyExportable $false -Template 'WebServer' -Organization 'Contoso Ltd' -OU 'IT' -City 'Redmond' -State 'Washington' -Country 'US' -Output $out -Confirm:$false -FriendlyName 'Default fe01.contoso.net'
    Add-EdgecertChange ('requested {0}: {1}' -f 'default/fe01.contoso.net', $out)
}
# web-internal/fe01.contoso.net
$out = Join-Path -Path $Here -ChildPath 'web-internal_fe01.contoso.net.req'
if (Test-Path -LiteralPath $out) {
    Write-Output ('{0} exists: kept' -f $out)
} elseif ($PSCmdlet.ShouldProcess('web-internal/fe01.contoso.net', 'Request-CsCertificate -New')) {
    Request-CsCertificate -New -Type 'WebServicesInternal' -DomainName 'pool01.contoso.net,fe01.contoso.net,meet.contoso.com,meet.fabrikam.com,dialin.contoso.com,lyncdiscoverinternal.contoso.com,lyncdiscoverinternal.fabrikam.com' -KeyAlg RSA -KeySize 2048 -PrivateKeyExportable $false -Template 'WebServer' -Organization 'Contoso Ltd' -OU 'IT' -City 'Redmond' -State 'Washington' -Country 'US' -Output $out -Confirm:$false -FriendlyName 'Web Internal fe01.contoso.net'
    Add-EdgecertChange ('requested {0}: {1}' -f 'web-internal/fe01.contoso.net', $out)
}
# web-external/fe01.contoso.net
$out = Join-Path -Path $Here -ChildPath 'web-external_fe01.contoso.net.req'
if (Test-Path -LiteralPath $out) {
    Write-Output ('{0} exists: kept' -f $out)
} elseif ($PSCmdlet.ShouldProcess('web-external/fe01.contoso.net', 'Request-CsCertificate -New')) {
    Request-CsCertificate -New -Type 'WebServicesExternal' -DomainName 'pool01.contoso.net,webext.contoso.com,meet.contoso.com,meet.fabrikam.com,dialin.contoso.com,lyncdiscover.contoso.com,lyncdiscover.fabrikam.com' -KeyAlg RSA -KeySize 2048 -PrivateKeyExportable $false -Template 'WebServer' -Organization 'Contoso Ltd' -OU 'IT' -City 'Redmond' -State 'Washington' -Country 'US' -Output $out -Confirm:$false -FriendlyName 'Web External fe01.contoso.net'
    Add-EdgecertChange ('requested {0}: {1}' -f 'web-external/fe01.contoso.net', $out)
}
# oauth/global
$out = Join-Path -Path $Here -ChildPath 'oauth_global.req'
if (Test-Path -LiteralPath $out) {
    Write-Output ('{0} exists: kept' -f $out)
} elseif ($PSCmdlet.ShouldProcess('oauth/global', 'Request-CsCertificate -New')) {
    Request-CsCertificate -New -Type 'OAuthTokenIssuer' -DomainName 'contoso.com' -KeyAlg RSA -KeySize 2048 -PrivateKeyExportable $true -Template 'WebServer' -Organization 'Contoso Ltd' -OU 'IT' -City 'Redmond' -State 'Washington' -Country 'US' -Output $out -Confirm:$false -FriendlyName 'OAuth Token Issuer'
    Add-EdgecertChange ('requested {0}: {1}' -f 'oauth/global', $out)
}
Write-Output ('{0} request(s) made; check each with edgecert request check, have it issued, then run Complete-EdgecertRequests.ps1' -f $Changes.Count)
