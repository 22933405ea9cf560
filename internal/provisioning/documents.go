package provisioning

import (
	"encoding/xml"
	"fmt"
)

// Namespaces and content types of the documents answered in-band.
const (
	// provisioningNS is the namespace of a provisioning-v2 answer
	// ([MS-SIPREGE] §2.2.2.5), distinct from the request's
	// .../provisioninggrouplist.
	provisioningNS   = "http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification"
	provisioningType = "application/vnd-microsoft-roaming-provisioning-v2+xml"

	// contactsNS is the namespace of the [MS-SIP] §9.1 contact schema.
	contactsNS   = "http://schemas.microsoft.com/sip/types"
	contactsType = "application/vnd-microsoft-roaming-contacts+xml"

	roamingSelfNS   = "http://schemas.microsoft.com/2006/09/sip/roaming-self"
	roamingSelfType = "application/vnd-microsoft-roaming-self+xml"

	// rlmiNS is a resource list (RFC 4662 §5), the presence answer to a
	// batched subscription.
	rlmiNS   = "urn:ietf:params:xml:ns:rlmi"
	rlmiType = "application/rlmi+xml"
)

// Values of ucPC2PCAVEncryption ([MS-SIPREGE] ServerConfiguration): SIPE
// reads SupportEncryption, DoNotSupportEncryption, and treats anything else
// as RequireEncryption.
const encryptionSupported = "SupportEncryption"

// provisionGroupList is the answer to a vnd-microsoft-provisioning-v2
// subscription.
type provisionGroupList struct {
	XMLName xml.Name         `xml:"provisionGroupList"`
	NS      string           `xml:"xmlns,attr"`
	Groups  []provisionGroup `xml:"provisionGroup"`
}

// provisionGroup name="ServerConfiguration": the elements are those OCS 2007
// R2 clients read (protocols.md §1.9). Empty URLs are left out.
type provisionGroup struct {
	Name                string `xml:"name,attr"`
	FocusFactoryURI     string `xml:"focusFactoryUri,omitempty"`
	DLXInternalURL      string `xml:"dlxInternalUrl,omitempty"`
	DLXExternalURL      string `xml:"dlxExternalUrl,omitempty"`
	UCPC2PCAVEncryption string `xml:"ucPC2PCAVEncryption,omitempty"`
}

// serverConfiguration holds what goes into the ServerConfiguration group.
type serverConfiguration struct {
	FocusFactoryURI string
	InternalURL     string
	ExternalURL     string
}

// focusFactoryURI is the user's Focus Factory ([MS-CONFPRO] §2.2.3:
// <aor>;gruu;opaque=app:conf:focusfactory), where the client sends
// addConference and getConferencingCapabilities.
func focusFactoryURI(aor string) string {
	return aor + ";gruu;opaque=app:conf:focusfactory"
}

// provisioningDocument renders the provisionGroupList.
func provisioningDocument(c serverConfiguration) ([]byte, error) {
	doc := provisionGroupList{
		NS: provisioningNS,
		Groups: []provisionGroup{{
			Name:                "ServerConfiguration",
			FocusFactoryURI:     c.FocusFactoryURI,
			DLXInternalURL:      c.InternalURL,
			DLXExternalURL:      c.ExternalURL,
			UCPC2PCAVEncryption: encryptionSupported,
		}},
	}
	return marshal(doc)
}

// contactList is an empty roaming contact list. [MS-SIP] says deltaNum
// must not be zero.
type contactList struct {
	XMLName  xml.Name `xml:"contactList"`
	NS       string   `xml:"xmlns,attr"`
	DeltaNum int      `xml:"deltaNum,attr"`
}

// roamingData is an empty roaming-self document: no categories,
// containers or subscribers yet.
type roamingData struct {
	XMLName xml.Name `xml:"roamingData"`
	NS      string   `xml:"xmlns,attr"`
}

// rlmiList is an empty resource list for a presence subscription.
type rlmiList struct {
	XMLName   xml.Name `xml:"list"`
	NS        string   `xml:"xmlns,attr"`
	URI       string   `xml:"uri,attr"`
	Version   int      `xml:"version,attr"`
	FullState bool     `xml:"fullState,attr"`
}

func marshal(v any) ([]byte, error) {
	body, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("provisioning: rendering %T: %w", v, err)
	}
	return append([]byte(xml.Header), append(body, '\n')...), nil
}
