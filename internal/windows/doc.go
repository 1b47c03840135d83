// Package windows is edgecert's side of the Windows servers themselves: it
// reads the snapshots that Collect-EdgecertSnapshot.ps1 writes on a Lync
// Server or Skype for Business server (its LocalMachine Root, CA and My
// stores and its Get-CsCertificate assignments), and it ships that script.
//
// Snapshots are read as Windows PowerShell 4.0 and 5.1 write them:
// UTF-8 or UTF-16 with or without a byte order mark, a lone object where a
// list of one is meant, dates as "/Date(ms)/" or ISO 8601, byte arrays as
// Base64 or as lists of numbers.
package windows
