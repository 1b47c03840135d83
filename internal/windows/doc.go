// Package windows is the Windows hand-off: the Windows PowerShell scripts an
// administrator runs on a Lync Server 2013 or Skype for Business Server
// computer to import the certificates edgecert planned and issued into the
// LocalMachine stores and assign them with Set-CsCertificate.
//
// The scripts run under Windows PowerShell 4.0 and 5.1 (Windows Server 2012
// R2 to 2019), so they use no syntax of later versions. They are written in
// UTF-8 with a byte order mark and CRLF line ends, because Windows
// PowerShell 5.1 reads a file without a byte order mark in the system's ANSI
// code page.
//
// The package only renders text: it reads no file, writes none, and takes
// the thumbprints and file names of what it installs from its caller.
package windows
