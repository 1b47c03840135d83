package certfmt

import (
	"encoding/asn1"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Bag attributes: friendlyName (a BMPString), localKeyId (an OCTET STRING)
// and any other attribute, kept as raw DER. Reading never fails on an
// attribute it does not know (Windows adds its CSP name and a machine key
// set marker), only on an encoding it cannot read at all.

// bagAttributes are the attributes of one bag.
type bagAttributes struct {
	friendlyName string
	localKeyID   []byte
	other        []BagAttribute
}

// parseBagAttributes sorts the attributes of a bag.
func parseBagAttributes(attrs []pkcs12Attribute) (bagAttributes, error) {
	var out bagAttributes
	for _, a := range attrs {
		switch {
		case a.ID.Equal(oidFriendlyName):
			var v asn1.RawValue
			if _, err := asn1.Unmarshal(a.Values.Bytes, &v); err != nil {
				return out, fmt.Errorf("%w: friendlyName: %w", ErrMalformed, err)
			}
			out.friendlyName = decodeASN1String(v)
		case a.ID.Equal(oidLocalKeyID):
			var id []byte
			if _, err := asn1.Unmarshal(a.Values.Bytes, &id); err != nil {
				return out, fmt.Errorf("%w: localKeyId: %w", ErrMalformed, err)
			}
			out.localKeyID = id
		default:
			out.other = append(out.other, BagAttribute{Type: a.ID, Values: append([]byte(nil), a.Values.Bytes...)})
		}
	}
	return out, nil
}

// Text returns the first value of the attribute as text when it is a
// string (the CSP name is a BMPString), or "".
func (a BagAttribute) Text() string {
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(a.Values, &v); err != nil {
		return ""
	}
	return decodeASN1String(v)
}

// decodeASN1String decodes a BMPString, UTF8String, PrintableString or
// IA5String; other values give "".
func decodeASN1String(v asn1.RawValue) string {
	if v.Class != asn1.ClassUniversal {
		return ""
	}
	switch v.Tag {
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return ""
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return strings.TrimRight(string(utf16.Decode(u)), "\x00")
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String:
		return string(v.Bytes)
	}
	return ""
}

// bmpValue returns s as a BMPString value.
func bmpValue(s string) asn1.RawValue {
	b := bmpPassword(s)
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: b[:len(b)-2]}
}

// encodeBagAttributes builds the attributes written on the key and leaf
// bags: localKeyId, friendlyName, then the extra ones.
func encodeBagAttributes(localKeyID []byte, friendlyName string, extra []BagAttribute) ([]pkcs12Attribute, error) {
	var out []pkcs12Attribute
	set := func(id asn1.ObjectIdentifier, v any) error {
		b, err := asn1.Marshal(v)
		if err != nil {
			return err
		}
		out = append(out, pkcs12Attribute{ID: id, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: b}})
		return nil
	}
	if err := set(oidLocalKeyID, localKeyID); err != nil {
		return nil, err
	}
	if friendlyName != "" {
		if err := set(oidFriendlyName, bmpValue(friendlyName)); err != nil {
			return nil, err
		}
	}
	for _, a := range extra {
		if a.Type.Equal(oidFriendlyName) || a.Type.Equal(oidLocalKeyID) {
			continue
		}
		out = append(out, pkcs12Attribute{ID: a.Type, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: a.Values}})
	}
	return out, nil
}
