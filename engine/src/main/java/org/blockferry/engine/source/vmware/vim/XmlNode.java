package org.blockferry.engine.source.vmware.vim;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import javax.xml.XMLConstants;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * One element of a SOAP reply: local name, resolved {@code xsi:type}, the {@code type}
 * attribute of managed object references, text and children. Namespaces are resolved by URI.
 */
final class XmlNode {
    private static final XMLInputFactory FACTORY = factory();

    final String name;
    final String xsiType;
    final String typeAttribute;
    final List<XmlNode> children = new ArrayList<>();
    private final StringBuilder text = new StringBuilder();

    private XmlNode(String name, String xsiType, String typeAttribute) {
        this.name = name;
        this.xsiType = xsiType;
        this.typeAttribute = typeAttribute;
    }

    /**
     * The JDK's own StAX parser (not whichever one the class path offers), without DTDs or
     * external entities: a reply is untrusted input (a wrong or hostile host may answer).
     */
    private static XMLInputFactory factory() {
        XMLInputFactory f = XMLInputFactory.newDefaultFactory();
        f.setProperty(XMLInputFactory.IS_NAMESPACE_AWARE, true);
        f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        f.setProperty(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        f.setXMLResolver((publicId, systemId, base, namespace) -> {
            throw new XMLStreamException("external entity " + systemId + " refused");
        });
        return f;
    }

    /**
     * Parses a whole document into a tree and returns its root element. A document with a
     * DOCTYPE is refused before anything in it is resolved: SOAP forbids one, and entities
     * (external files, billion laughs) only come with it.
     */
    static XmlNode parse(InputStream in) throws IOException {
        try {
            XMLStreamReader r = FACTORY.createXMLStreamReader(in);
            Deque<XmlNode> open = new ArrayDeque<>();
            XmlNode root = null;
            while (r.hasNext()) {
                switch (r.next()) {
                    case XMLStreamConstants.DTD -> throw new IOException("the reply has a DOCTYPE, which a SOAP"
                            + " message never has: refused (none of its entities was read)");
                    case XMLStreamConstants.START_ELEMENT -> {
                        XmlNode node = new XmlNode(r.getLocalName(), xsiType(r), plainTypeAttribute(r));
                        if (open.isEmpty()) {
                            root = node;
                        } else {
                            open.peek().children.add(node);
                        }
                        open.push(node);
                    }
                    case XMLStreamConstants.CHARACTERS, XMLStreamConstants.CDATA -> {
                        if (!open.isEmpty()) {
                            open.peek().text.append(r.getText());
                        }
                    }
                    case XMLStreamConstants.END_ELEMENT -> open.pop();
                    default -> { }
                }
            }
            if (root == null) {
                throw new IOException("empty XML reply");
            }
            return root;
        } catch (XMLStreamException e) {
            throw new IOException("malformed XML reply: " + e.getMessage(), e);
        }
    }

    /** The unqualified {@code type} attribute (of a managed object reference), never xsi:type. */
    private static String plainTypeAttribute(XMLStreamReader r) {
        for (int i = 0; i < r.getAttributeCount(); i++) {
            String ns = r.getAttributeNamespace(i);
            if ((ns == null || ns.isEmpty()) && r.getAttributeLocalName(i).equals("type")) {
                return r.getAttributeValue(i);
            }
        }
        return null;
    }

    /** The local part of xsi:type, with the value's prefix checked against the namespace context. */
    private static String xsiType(XMLStreamReader r) {
        String value = r.getAttributeValue(XMLConstants.W3C_XML_SCHEMA_INSTANCE_NS_URI, "type");
        if (value == null) {
            return null;
        }
        int colon = value.indexOf(':');
        if (colon < 0) {
            return value;
        }
        String uri = r.getNamespaceContext().getNamespaceURI(value.substring(0, colon));
        String local = value.substring(colon + 1);
        // xsd:string etc. are plain values; everything else is a vim25 type
        return XMLConstants.W3C_XML_SCHEMA_NS_URI.equals(uri) ? "xsd:" + local : local;
    }

    String text() {
        return text.toString().trim();
    }

    /** The first child with this local name, or null. */
    XmlNode child(String localName) {
        for (XmlNode c : children) {
            if (c.name.equals(localName)) {
                return c;
            }
        }
        return null;
    }

    List<XmlNode> children(String localName) {
        List<XmlNode> out = new ArrayList<>();
        for (XmlNode c : children) {
            if (c.name.equals(localName)) {
                out.add(c);
            }
        }
        return out;
    }

    /** The text of a descendant reached by local names, or null when any step is missing. */
    String text(String... path) {
        XmlNode n = this;
        for (String step : path) {
            n = n.child(step);
            if (n == null) {
                return null;
            }
        }
        return n.text();
    }

    ManagedObject asManagedObject() {
        return new ManagedObject(typeAttribute, text());
    }
}
