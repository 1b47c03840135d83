#Requires -Version 4.0
<#
.SYNOPSIS
    Imports and assigns the certificates edgecert planned for fe01.contoso.net.
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
    The file that holds the .pfx transfer password (default: transfer-password.txt
    next to this script).
.PARAMETER ResultFile
    Where the JSON result goes (default: install-result.json next to this script).
.PARAMETER Rollback
    Assign again what previous-assignments.json (written by the first run) holds.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$TransferPasswordFile = '',
    [string]$ResultFile = '',
    [switch]$Rollback
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
$Cmdlet = $PSCmdlet
$Here = $PSScriptRoot
if (-not $Here) { $Here = Split-Path -Parent $MyInvocation.MyCommand.Path }
if (-not $TransferPasswordFile) { $TransferPasswordFile = Join-Path $Here 'transfer-password.txt' }
if (-not $ResultFile) { $ResultFile = Join-Path $Here 'install-result.json' }
$PreviousFile = Join-Path $Here 'previous-assignments.json'
$Server = 'fe01.contoso.net'
$Uses = @('Default', 'WebServicesInternal', 'WebServicesExternal', 'OAuthTokenIssuer')
$Changed = New-Object System.Collections.ArrayList
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

if (-not (Get-Command Set-CsCertificate -ErrorAction SilentlyContinue)) {
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

if ($Rollback) {
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

if (-not (Test-Path -LiteralPath $TransferPasswordFile)) {
    Stop-Install ('the transfer password file {0} does not exist; give it with -TransferPasswordFile' -f $TransferPasswordFile)
}
$PasswordText = [System.IO.File]::ReadAllText($TransferPasswordFile).TrimEnd([char[]]@([char]13, [char]10))
$Password = ConvertTo-SecureString -String $PasswordText -AsPlainText -Force

function Install-CertFile([string]$File, [string]$Thumbprint, [string]$Store) {
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

function Install-Pfx([string]$File, [string]$Thumbprint, [string]$FriendlyName, [bool]$Exportable) {
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

Install-CertFile 'root.cer' 'DC76E9F0C0006E8F919E0C515C66DBBA3982F785' 'Root'  # CN=Contoso Demo Root CA
Install-CertFile 'issuing.cer' 'F15238512DBE5032DC7A8D36DFCD24CF39488201' 'CA'  # CN=Contoso Demo Issuing CA
Install-Pfx 'default_fe01.contoso.net.pfx' '452434EE5E469836BBEC2A5CB04A243AF48321A1' 'Default fe01.contoso.net' $false
Install-Pfx 'web-internal_fe01.contoso.net.pfx' '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D' 'Web Internal fe01.contoso.net' $false
Install-Pfx 'web-external_fe01.contoso.net.pfx' '892666717E55150A02F2515DC03327A66E3591D0' 'Web External fe01.contoso.net' $false
Install-Pfx 'oauth_global.pfx' 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA' 'OAuth Token Issuer' $true

Save-Previous

# Default fe01.contoso.net (default/fe01.contoso.net)
if ((Test-Assigned 'Default' '452434EE5E469836BBEC2A5CB04A243AF48321A1')) {
    [void]$Unchanged.Add('Default ' + '452434EE5E469836BBEC2A5CB04A243AF48321A1')
} elseif ($Cmdlet.ShouldProcess($Server, ('assign {0} to Default' -f '452434EE5E469836BBEC2A5CB04A243AF48321A1'))) {
    Set-CsCertificate -Type Default -Thumbprint '452434EE5E469836BBEC2A5CB04A243AF48321A1' -Confirm:$false
    [void]$Changed.Add('Default ' + '452434EE5E469836BBEC2A5CB04A243AF48321A1')
}

# Web Internal fe01.contoso.net (web-internal/fe01.contoso.net)
if ((Test-Assigned 'WebServicesInternal' '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D')) {
    [void]$Unchanged.Add('WebServicesInternal ' + '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D')
} elseif ($Cmdlet.ShouldProcess($Server, ('assign {0} to WebServicesInternal' -f '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D'))) {
    Set-CsCertificate -Type WebServicesInternal -Thumbprint '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D' -Confirm:$false
    [void]$Changed.Add('WebServicesInternal ' + '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D')
}

# Web External fe01.contoso.net (web-external/fe01.contoso.net)
if ((Test-Assigned 'WebServicesExternal' '892666717E55150A02F2515DC03327A66E3591D0')) {
    [void]$Unchanged.Add('WebServicesExternal ' + '892666717E55150A02F2515DC03327A66E3591D0')
} elseif ($Cmdlet.ShouldProcess($Server, ('assign {0} to WebServicesExternal' -f '892666717E55150A02F2515DC03327A66E3591D0'))) {
    Set-CsCertificate -Type WebServicesExternal -Thumbprint '892666717E55150A02F2515DC03327A66E3591D0' -Confirm:$false
    [void]$Changed.Add('WebServicesExternal ' + '892666717E55150A02F2515DC03327A66E3591D0')
}

# OAuth Token Issuer (oauth/global)
if ((Test-Assigned 'OAuthTokenIssuer' 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA')) {
    [void]$Unchanged.Add('OAuthTokenIssuer ' + 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA')
} elseif ($Cmdlet.ShouldProcess($Server, ('assign {0} to OAuthTokenIssuer' -f 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA'))) {
    Set-CsCertificate -Identity Global -Type OAuthTokenIssuer -Thumbprint 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA' -Confirm:$false
    [void]$Changed.Add('OAuthTokenIssuer ' + 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA')
}

if (-not $WhatIfPreference) {
    $cert = Get-Item -LiteralPath ('Cert:\LocalMachine\My\' + '452434EE5E469836BBEC2A5CB04A243AF48321A1') -ErrorAction SilentlyContinue
    if (-not $cert) { [void]$Problems.Add('not in Cert:\LocalMachine\My: ' + '452434EE5E469836BBEC2A5CB04A243AF48321A1') }
    elseif (-not $cert.HasPrivateKey) { [void]$Problems.Add('no private key: ' + '452434EE5E469836BBEC2A5CB04A243AF48321A1') }
    if (-not (Test-Assigned 'Default' '452434EE5E469836BBEC2A5CB04A243AF48321A1')) { [void]$Problems.Add('not assigned to Default: ' + '452434EE5E469836BBEC2A5CB04A243AF48321A1') }
    $cert = Get-Item -LiteralPath ('Cert:\LocalMachine\My\' + '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D') -ErrorAction SilentlyContinue
    if (-not $cert) { [void]$Problems.Add('not in Cert:\LocalMachine\My: ' + '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D') }
    elseif (-not $cert.HasPrivateKey) { [void]$Problems.Add('no private key: ' + '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D') }
    if (-not (Test-Assigned 'WebServicesInternal' '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D')) { [void]$Problems.Add('not assigned to WebServicesInternal: ' + '94B6A2FF5EB19DE8CAC5DE44ABA1ED72E9CF083D') }
    $cert = Get-Item -LiteralPath ('Cert:\LocalMachine\My\' + '892666717E55150A02F2515DC03327A66E3591D0') -ErrorAction SilentlyContinue
    if (-not $cert) { [void]$Problems.Add('not in Cert:\LocalMachine\My: ' + '892666717E55150A02F2515DC03327A66E3591D0') }
    elseif (-not $cert.HasPrivateKey) { [void]$Problems.Add('no private key: ' + '892666717E55150A02F2515DC03327A66E3591D0') }
    if (-not (Test-Assigned 'WebServicesExternal' '892666717E55150A02F2515DC03327A66E3591D0')) { [void]$Problems.Add('not assigned to WebServicesExternal: ' + '892666717E55150A02F2515DC03327A66E3591D0') }
    $cert = Get-Item -LiteralPath ('Cert:\LocalMachine\My\' + 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA') -ErrorAction SilentlyContinue
    if (-not $cert) { [void]$Problems.Add('not in Cert:\LocalMachine\My: ' + 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA') }
    elseif (-not $cert.HasPrivateKey) { [void]$Problems.Add('no private key: ' + 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA') }
    if (-not (Test-Assigned 'OAuthTokenIssuer' 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA')) { [void]$Problems.Add('not assigned to OAuthTokenIssuer: ' + 'F6F0C01DB916AF88DDDF5F30CC71FC37FE1D4CBA') }
}
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
exit 0
