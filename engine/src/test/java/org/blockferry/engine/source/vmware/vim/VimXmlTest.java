package org.blockferry.engine.source.vmware.vim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class VimXmlTest {
    private static XmlNode parse(String xml) throws IOException {
        return XmlNode.parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void xsiTypeIsFoundByNamespaceNotByPrefix() throws IOException {
        XmlNode root = parse("<r xmlns:XMLSchema-instance='http://www.w3.org/2001/XMLSchema-instance' xmlns:xsi='urn:not-xsi'>"
                + "<a XMLSchema-instance:type='VirtualDisk'/><b xsi:type='VirtualDisk'/>"
                + "<c type='VirtualMachine' XMLSchema-instance:type='ManagedObjectReference'>vm-1</c></r>");
        assertEquals("VirtualDisk", root.child("a").xsiType);
        assertNull(root.child("b").xsiType);
        assertEquals(new ManagedObject("VirtualMachine", "vm-1"), root.child("c").asManagedObject());
        assertEquals("ManagedObjectReference", root.child("c").xsiType);
    }

    @Test
    void unknownElementsAreIgnoredAndPathsMayBeMissing() throws IOException {
        XmlNode root = parse("<r xmlns='urn:vim25'><futureThing><deep>1</deep></futureThing><key>7</key></r>");
        assertEquals("7", root.text("key"));
        assertNull(root.text("backing", "changeId"));
    }

    @Test
    void faultDetailWithoutXsiTypeIsNamedAfterItsElement() throws IOException {
        String envelope = "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body>"
                + "<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>gone</faultstring>"
                + "<detail><ManagedObjectNotFoundFault xmlns='urn:vim25'/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>";
        VimFault f = SoapCall.fault(parse(envelope).child("Body").child("Fault"));
        assertTrue(f instanceof VimFault.ManagedObjectNotFound, f.toString());
        assertEquals("ManagedObjectNotFound: gone", f.getMessage());
    }

    @Test
    void doctypesAreRefused() {
        assertThrows(IOException.class, () -> parse("<!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><r>&x;</r>"));
    }

    @Test
    void requestEscapesTextAndPutsArgumentsInOrder() {
        String xml = SoapCall.envelope("Login", new ManagedObject("SessionManager", "SessionManager"),
                List.of(SoapCall.arg("userName", "a&b"), SoapCall.arg("password", "<x>")));
        assertTrue(xml.contains("<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this>"
                + "<userName>a&amp;b</userName><password>&lt;x&gt;</password></Login>"), xml);
    }
}
